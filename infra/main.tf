locals {
  package_path = coalesce(var.package_path, "${path.module}/../dist/function.zip")

  # FunctionGraph imports index.py from the zip's root and calls its `handler`: `make package`
  # writes index.py as `from handler import handler`. tests/test_infra.py checks the two agree.
  handler = "index.handler"

  # ---- least privilege: exactly the API actions the code calls -----------------------------------
  # ShowMasterSlavePool, ListMasterSlavePools, ShowMemberHealthCheckJob, and ListLoadBalancers for
  # routes on `tag` (read-only, granted always: a routing file can start using tags without a new
  # apply). tests/test_infra.py derives the same list from the SDK calls in handler/ and compares.
  iam_read_actions = ["elb:pools:get", "elb:pools:list", "elb:members:get", "elb:loadbalancers:list"]
  # CreateMemberHealthCheckJob: a write call, granted only while auto-diagnosis is on.
  iam_diagnosis_actions = ["elb:members:create"]
  # PublishMessage, on this function's topic only.
  iam_publish_actions = ["smn:topic:publish"]

  elb_actions = var.auto_diagnosis ? concat(local.iam_read_actions, local.iam_diagnosis_actions) : local.iam_read_actions

  policy_statements = [
    {
      Effect = "Allow"
      Action = local.elb_actions
    },
    {
      Effect   = "Allow"
      Action   = local.iam_publish_actions
      Resource = ["smn:${var.region}:*:topic:${huaweicloud_smn_topic.alerts.name}"]
    },
  ]
  # CreateMetricData with metrics on (infra/metrics.tf): Cloud Eye takes no resource in the policy.
  iam_policy = {
    Version   = "1.1"
    Statement = concat(local.policy_statements, local.metrics_statements)
  }

  # ---- what the timer sends: the watch request as the TIMER event's user_event (a JSON string) --
  watch_request = length(var.scopes) > 0 ? jsonencode({
    sweeps = [for scope in var.scopes : {
      region     = scope.region
      project_id = scope.project_id
      sweep      = { for name, values in coalesce(scope.sweep, {}) : name => values if values != null }
    }]
    }) : var.sweep != null ? jsonencode({
    sweep = { for name, values in var.sweep : name => values if values != null }
    }) : jsonencode({
    targets = [for pool in var.pools : { for name, value in pool : name => value if value != null }]
  })

  # The agency's policy applies in the function's own project and in each scope's.
  agency_projects = distinct(concat([var.region], [for scope in var.scopes : coalesce(scope.project_name, scope.region)]))

  # FunctionGraph's TIMER trigger takes a user_event of under 2 KB (about 40 pool ids); the function
  # itself accepts 100 targets. Checked before anything is created (precondition on the trigger).
  user_event_limit = 2048

  # ---- configuration: every ELB_WATCH_* variable the function reads -----------------------------
  # null leaves a variable unset, so the function's documented default applies.
  settings = {
    ELB_WATCH_REGION                = var.region
    ELB_WATCH_LOCALE                = var.locale
    ELB_WATCH_LOG_LEVEL             = var.log_level
    ELB_WATCH_SMN_TOPIC_URN         = huaweicloud_smn_topic.alerts.topic_urn
    ELB_WATCH_DIAGNOSE              = var.auto_diagnosis ? "on" : "off"
    ELB_WATCH_DIAGNOSE_TTL          = var.diagnosis_ttl
    ELB_WATCH_REPEAT_INTERVAL       = var.repeat_interval
    ELB_WATCH_FIRE_AFTER            = var.fire_after
    ELB_WATCH_RESOLVE_AFTER         = var.resolve_after
    ELB_WATCH_GROUP_THRESHOLD       = var.group_threshold
    ELB_WATCH_CONCURRENCY           = var.concurrency
    ELB_WATCH_API_RATE              = var.api_rate
    ELB_WATCH_CONNECT_TIMEOUT       = var.connect_timeout
    ELB_WATCH_READ_TIMEOUT          = var.read_timeout
    ELB_WATCH_RESERVE_SECONDS       = var.reserve_seconds
    ELB_WATCH_MAX_ATTEMPTS          = var.max_attempts
    ELB_WATCH_RETRY_BASE_SECONDS    = var.retry_base_seconds
    ELB_WATCH_POLL_INTERVAL_SECONDS = var.poll_interval_seconds
    ELB_WATCH_ROUTES                = var.routes
    ELB_WATCH_METRICS               = var.metrics ? "on" : "off"
    ELB_WATCH_METRICS_NAMESPACE     = var.metrics_namespace
    ELB_WATCH_COC_REGION            = var.coc_region
    ELB_WATCH_COC_APPLICATION_ID    = var.coc_application_id
    ELB_WATCH_HISTORY_DAYS          = var.history_days
    ELB_WATCH_HISTORY_MAX           = var.history_max
    ELB_WATCH_ACTIONS_URL           = local.actions_url
  }

  # Webhook URLs carry tokens and the state URL may carry a password: FunctionGraph keeps these
  # encrypted (encrypted_user_data) and Terraform never prints them (sensitive variables).
  secret_settings = {
    ELB_WATCH_STATE            = var.state_url
    ELB_WATCH_FEISHU_WEBHOOK   = var.feishu_webhook
    ELB_WATCH_FEISHU_SECRET    = var.feishu_secret
    ELB_WATCH_DINGTALK_WEBHOOK = var.dingtalk_webhook
    ELB_WATCH_DINGTALK_SECRET  = var.dingtalk_secret
    ELB_WATCH_WECOM_WEBHOOK    = var.wecom_webhook
    ELB_WATCH_SLACK_WEBHOOK    = var.slack_webhook
    ELB_WATCH_WEBHOOK_URL      = var.webhook_url
    ELB_WATCH_WEBHOOK_SECRET   = var.webhook_secret
    ELB_WATCH_WELINK_WEBHOOK   = var.welink_webhook
    ELB_WATCH_TEAMS_WEBHOOK    = var.teams_webhook
    # COC's integration key sits in the intake's request path: a secret like a webhook token.
    ELB_WATCH_COC_INTEGRATION_KEY = var.coc_integration_key
    ELB_WATCH_ACTIONS_KEY         = var.actions_key
  }

  user_data = { for name, value in local.settings : name => tostring(value) if value != null }
  # The routing file's $${NAME} values are encrypted like the channel variables.
  encrypted_user_data = merge(
    { for name, value in local.secret_settings : name => value if value != null },
    var.route_secrets,
  )
}

# ---- IAM: a custom policy with only the actions above, and an agency FunctionGraph assumes ----------

resource "huaweicloud_identity_role" "watch" {
  name        = "${var.function_name}-policy"
  description = "elb-master-watch: read ELB active/standby pools and member check jobs, publish to its SMN topic"
  type        = "XA" # project-level: ELB and SMN are regional services
  policy      = jsonencode(local.iam_policy)
}

resource "huaweicloud_identity_agency" "watch" {
  name                   = "${var.function_name}-agency"
  description            = "Lets the elb-master-watch function call ELB and SMN with its custom policy only"
  delegated_service_name = "op_svc_cff" # FunctionGraph

  dynamic "project_role" {
    for_each = local.agency_projects
    content {
      project = project_role.value
      roles   = [huaweicloud_identity_role.watch.name]
    }
  }
}

# Attaching a function to a VPC (to reach DCS Redis) is a configuration-time permission, kept in its
# own agency so the code's credentials (app_agency) never get it.
resource "huaweicloud_identity_agency" "network" {
  count = var.vpc_id != null ? 1 : 0

  name                   = "${var.function_name}-network"
  description            = "Lets FunctionGraph attach elb-master-watch to its VPC"
  delegated_service_name = "op_svc_cff"

  project_role {
    project = var.region
    roles   = ["VPC Administrator"]
  }
}

# ---- SMN: the topic the function publishes to, and its email/SMS subscribers -------------------------

resource "huaweicloud_smn_topic" "alerts" {
  name         = var.smn_topic_name
  display_name = "ELB master watch"
  introduction = "Notifications from elb-master-watch: failed masters of ELB active/standby pools, and why."
  tags         = var.tags
}

resource "huaweicloud_smn_subscription" "email" {
  for_each = toset(var.alert_emails)

  topic_urn = huaweicloud_smn_topic.alerts.topic_urn
  protocol  = "email"
  endpoint  = each.value
  remark    = "elb-master-watch"
}

resource "huaweicloud_smn_subscription" "sms" {
  for_each = toset(var.alert_phone_numbers)

  topic_urn = huaweicloud_smn_topic.alerts.topic_urn
  protocol  = "sms"
  endpoint  = each.value
  remark    = "elb-master-watch"
}

# ---- the function ------------------------------------------------------------------------------------

resource "huaweicloud_fgs_function" "watch" {
  name        = var.function_name
  app         = "default"
  description = "Reports a failed master of an ELB active/standby pool, whether traffic failed over, and why."
  runtime     = "Python3.10"
  handler     = local.handler
  memory_size = var.memory_size
  timeout     = var.timeout

  # The zip is reproducible, so an unchanged build never shows up as a diff.
  code_type     = "zip"
  code_filename = basename(local.package_path)
  func_code     = filebase64(local.package_path)

  # app_agency: the credentials the code gets in its context; agency: what FunctionGraph itself
  # needs to configure the function (VPC attachment).
  app_agency = huaweicloud_identity_agency.watch.name
  agency     = var.vpc_id != null ? huaweicloud_identity_agency.network[0].name : huaweicloud_identity_agency.watch.name
  vpc_id     = var.vpc_id
  network_id = var.subnet_id

  user_data           = jsonencode(local.user_data)
  encrypted_user_data = jsonencode(local.encrypted_user_data)

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length([for set in [length(var.pools) > 0, var.sweep != null, length(var.scopes) > 0] : set if set]) == 1
      error_message = "Set exactly one of `pools` (a list of pool ids), `sweep` (filters, {} for every pool) or `scopes` (a sweep per region/project)."
    }
    precondition {
      condition     = (var.vpc_id == null) == (var.subnet_id == null)
      error_message = "vpc_id and subnet_id go together."
    }
  }
}

# ---- the timer -----------------------------------------------------------------------------------------
# timer_enabled = false creates no timer at all. A DISABLED timer cannot be created with every provider
# version the constraint allows: from v1.75.2 (commit 8117dab5, "add new resource to change trigger
# status") the create call no longer sends trigger_status, only an update does, and FunctionGraph
# creates a TIMER ACTIVE, so `status = "DISABLED"` would fire every minute until a second apply.
# Turning the timer off later destroys it; turning it on creates it (ACTIVE on every version).

resource "huaweicloud_fgs_function_trigger" "timer" {
  count = var.timer_enabled ? 1 : 0

  function_urn = huaweicloud_fgs_function.watch.urn
  type         = "TIMER"
  status       = "ACTIVE" # sent on update only (>= 1.75.2): re-enables a timer disabled by hand

  event_data = jsonencode({
    name          = "${var.function_name}-timer"
    schedule_type = var.schedule_type
    schedule      = var.schedule
    user_event    = local.watch_request
  })

  lifecycle {
    precondition {
      condition     = length(local.watch_request) < local.user_event_limit
      error_message = "The timer's user_event (the watch request) is ${length(local.watch_request)} characters; FunctionGraph takes under ${local.user_event_limit} (about 40 pools). Watch fewer pools per function, or use `sweep` (filters instead of ids)."
    }
  }
}

# State written before the timer had a count (one unindexed instance) is this same trigger.
moved {
  from = huaweicloud_fgs_function_trigger.timer
  to   = huaweicloud_fgs_function_trigger.timer[0]
}

# ---- the weekly report: a second timer sends the history's summary (alerts history) to the receivers ----
# Cron in FunctionGraph's standard format, "seconds minutes hours day-of-month month day-of-week", in the
# region's time zone. The event is {"report":"weekly"}: the function reads no ELB, it sums up the
# episodes the store keeps (so the store must be one every run shares: a Redis/DCS or SQLite-on-SFS URL).

resource "huaweicloud_fgs_function_trigger" "weekly_report" {
  count = var.report_enabled ? 1 : 0

  function_urn = huaweicloud_fgs_function.watch.urn
  type         = "TIMER"
  status       = "ACTIVE"

  event_data = jsonencode({
    name          = "${var.function_name}-weekly-report"
    schedule_type = "Cron"
    schedule      = var.report_schedule
    user_event    = jsonencode({ report = "weekly" })
  })
}

# ---- the watcher's own health: Cloud Eye alarm on the function's errors, to the same SMN topic ---------
# Metric and dimension: FunctionGraph's Cloud Eye metrics (namespace SYS.FunctionGraph, metric
# failcount, dimension package-functionname = "<app>-<function name>").

resource "huaweicloud_ces_alarmrule" "function_errors" {
  count = var.error_alarm ? 1 : 0

  alarm_name           = "${var.function_name}-errors"
  alarm_description    = "elb-master-watch itself failed (crash, timeout, out of memory): alerts may be missed."
  alarm_action_enabled = true
  alarm_enabled        = true
  alarm_type           = "MULTI_INSTANCE"

  metric {
    namespace = "SYS.FunctionGraph"
  }

  resources {
    dimensions {
      name  = "package-functionname"
      value = "${huaweicloud_fgs_function.watch.app}-${huaweicloud_fgs_function.watch.name}"
    }
  }

  condition {
    metric_name         = "failcount"
    period              = 300
    filter              = "sum"
    comparison_operator = ">="
    value               = 1
    count               = 1
    suppress_duration   = 3600
    alarm_level         = 2
  }

  alarm_actions {
    type              = "notification"
    notification_list = [huaweicloud_smn_topic.alerts.topic_urn]
  }

  ok_actions {
    type              = "notification"
    notification_list = [huaweicloud_smn_topic.alerts.topic_urn]
  }
}
