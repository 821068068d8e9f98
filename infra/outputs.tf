output "function_urn" {
  description = "URN of the function (for `hcloud FunctionGraph` calls and the console)."
  value       = huaweicloud_fgs_function.watch.urn
}

output "function_name" {
  description = "Name of the function in the FunctionGraph console."
  value       = huaweicloud_fgs_function.watch.name
}

output "smn_topic_urn" {
  description = "The SMN topic the function publishes to (ELB_WATCH_SMN_TOPIC_URN)."
  value       = huaweicloud_smn_topic.alerts.topic_urn
}

output "agency_name" {
  description = "The agency whose temporary credentials the function runs with."
  value       = huaweicloud_identity_agency.watch.name
}

output "iam_actions" {
  description = "Every action the custom policy allows."
  value       = concat(local.elb_actions, local.iam_publish_actions, var.metrics ? local.iam_metrics_actions : [])
}

output "timer_user_event" {
  description = "The watch request the timer sends on every run (paste it as a console test event to try one run)."
  value       = local.watch_request
}

output "alarm_topic_urn" {
  description = "The SMN topic Cloud Eye alarms reach the function through (null without alarm_loadbalancer_ids)."
  value       = local.alarm_path ? huaweicloud_smn_topic.alarms[0].topic_urn : null
}
