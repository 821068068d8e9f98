# ---- Cloud Eye custom metrics and the heartbeat that watches the watcher (issue 24) ---------------------
# With metrics = true the function pushes, on every run, watch_runs = 1 (and watch_errors,
# notifications_sent) with the dimension watcher = the function's name, to var.metrics_namespace
# (handler/metrics.py). The heartbeat fires when fewer runs arrive than the timer should make.
#
# What it cannot see: when no data point arrives at all (function deleted, timer disabled or deleted,
# every run killed before it pushes, Cloud Eye unreachable), Cloud Eye has nothing to compare with the
# threshold. The rule stays as it was and turns "insufficient data" after 3 hours without data, which
# notifies nobody: the provider has no insufficient-data action (insufficientdata_actions is deprecated
# and ignored). See "The heartbeat" in infra/README.md.

locals {
  # Seconds between timer runs for a Rate schedule ("1m", "5m", "1h", "1d"); null for a Cron one.
  schedule_seconds = (
    var.schedule_type == "Rate" && can(regex("^[0-9]+[mhd]$", var.schedule))
    ? tonumber(regex("^[0-9]+", var.schedule)) * lookup({ m = 60, h = 3600, d = 86400 }, substr(var.schedule, -1, 1), 60)
    : null
  )
  # The shortest Cloud Eye period that holds at least 4 runs, so "fewer than half" is a real count.
  heartbeat_period = (
    local.schedule_seconds == null ? 3600
    : try([for period in [300, 1200, 3600, 14400, 86400] : period if period >= 4 * local.schedule_seconds][0], 86400)
  )
  heartbeat_expected = local.schedule_seconds == null ? null : floor(local.heartbeat_period / local.schedule_seconds)
  # Fewer runs than this in a period is an alarm: var.heartbeat_min_runs, else half of those expected.
  heartbeat_min_runs = try(coalesce(var.heartbeat_min_runs, ceil(local.heartbeat_expected / 2)), null)
  heartbeat          = var.metrics && var.heartbeat_alarm && var.timer_enabled

  # CreateMetricData needs ces:metricData:create, granted only with metrics on.
  iam_metrics_actions = ["ces:metricData:create"]
  metrics_statements  = var.metrics ? [{ Effect = "Allow", Action = local.iam_metrics_actions }] : []
}

resource "huaweicloud_ces_alarmrule" "heartbeat" {
  count = local.heartbeat ? 1 : 0

  alarm_name           = "${var.function_name}-heartbeat"
  alarm_description    = "elb-master-watch ran fewer times than its timer asks (watch_runs): pools may go unwatched."
  alarm_action_enabled = true
  alarm_enabled        = true
  alarm_type           = "MULTI_INSTANCE"

  metric {
    namespace = var.metrics_namespace
  }

  resources {
    dimensions {
      name  = "watcher"
      value = huaweicloud_fgs_function.watch.name
    }
  }

  condition {
    metric_name         = "watch_runs"
    period              = local.heartbeat_period
    filter              = "sum"
    comparison_operator = "<"
    value               = local.heartbeat_min_runs
    count               = var.heartbeat_periods
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

  lifecycle {
    precondition {
      condition     = local.heartbeat_expected == null ? true : local.heartbeat_expected >= 2
      error_message = "The schedule runs less than twice a day, Cloud Eye's longest period: a heartbeat cannot count missing runs. Run at least every 6 hours, or set heartbeat_alarm = false."
    }
    precondition {
      condition     = local.heartbeat_min_runs != null
      error_message = "A Cron schedule has no run count Terraform can work out: set heartbeat_min_runs (runs per hour below which the heartbeat fires), or heartbeat_alarm = false."
    }
  }
}
