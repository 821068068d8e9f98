# ---- the event path: Cloud Eye alarm -> SMN topic -> this function --------------------------------------
# One Cloud Eye alarm rule per load balancer in var.alarm_loadbalancer_ids, on SYS.ELB m9_abnormal_servers
# ("Unhealthy Servers", dimension lbaas_instance_id). Its alarm and recovery (ok) notifications go to a
# topic of their own whose subscriber is the function's SMN trigger; the function turns each one into a
# check of that load balancer's active/standby pools (handler/cloudeye.py). Nothing here exists while the
# list is empty. Arguments checked against the provider's Go source and docs (v1.62.1 and later):
# huaweicloud_ces_alarmrule (metric.namespace, resources.dimensions, condition.metric_name) and
# huaweicloud_fgs_function_trigger type SMN, whose event_data is {"topic_urn": ...}.

locals {
  alarm_path = length(var.alarm_loadbalancer_ids) > 0
}

resource "huaweicloud_smn_topic" "alarms" {
  count = local.alarm_path ? 1 : 0

  name         = "${var.function_name}-alarms"
  display_name = "ELB master watch alarm path"
  introduction = "Cloud Eye alarms on unhealthy ELB backends, delivered to the elb-master-watch function."
  tags         = var.tags
}

resource "huaweicloud_ces_alarmrule" "unhealthy_servers" {
  for_each = toset(var.alarm_loadbalancer_ids)

  alarm_name           = "${var.function_name}-unhealthy-${substr(replace(each.value, "-", ""), 0, 12)}"
  alarm_description    = "Unhealthy backends on load balancer ${each.value}: elb-master-watch checks its active/standby pools."
  alarm_enabled        = true
  alarm_action_enabled = true
  alarm_type           = "MULTI_INSTANCE"

  metric {
    namespace = "SYS.ELB"
  }

  resources {
    dimensions {
      name  = "lbaas_instance_id"
      value = each.value
    }
  }

  condition {
    metric_name         = "m9_abnormal_servers"
    period              = var.alarm_period
    filter              = var.alarm_period == 1 ? "average" : "max"
    comparison_operator = ">="
    value               = 1
    count               = var.alarm_count
    suppress_duration   = 0 # once per state change: the timer repeats and resolves
    alarm_level         = var.alarm_level
  }

  # The provider requires the same notification_list for both.
  alarm_actions {
    type              = "notification"
    notification_list = [huaweicloud_smn_topic.alarms[0].topic_urn]
  }

  ok_actions {
    type              = "notification"
    notification_list = [huaweicloud_smn_topic.alarms[0].topic_urn]
  }
}

# SMN triggers take no status (always active).
resource "huaweicloud_fgs_function_trigger" "alarms" {
  count = local.alarm_path ? 1 : 0

  function_urn = huaweicloud_fgs_function.watch.urn
  type         = "SMN"

  event_data = jsonencode({
    topic_urn = huaweicloud_smn_topic.alarms[0].topic_urn
  })
}
