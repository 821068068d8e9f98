# ---------------------------------------------------------------------------------------------------
# Where and what
# ---------------------------------------------------------------------------------------------------

variable "region" {
  description = "Region of the function, the ELB pools it watches and the SMN topic, e.g. cn-north-4."
  type        = string
}

variable "function_name" {
  description = "Name of the function; also the prefix of the agency, the custom policy and the timer."
  type        = string
  default     = "elb-master-watch"

  # The provider's rule (2-60 characters, letters, digits, '_' and '-', starting with a letter and
  # ending with a letter or digit), capped at 52 so "<name>-network" and "<name>-policy" stay legal.
  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,50}[A-Za-z0-9]$", var.function_name))
    error_message = "function_name: 2 to 52 characters: a letter first, then letters, digits, '-' or '_', ending with a letter or digit."
  }
}

variable "package_path" {
  description = "The code zip built by `make package`. Defaults to ../dist/function.zip next to this folder."
  type        = string
  default     = null
}

variable "memory_size" {
  description = "Memory of each instance in MB. 128 is enough: a 10,000-pool sweep peaks under 100 MB."
  type        = number
  default     = 128
}

variable "timeout" {
  description = "Seconds an invocation may run (3..900). Check-job polling and retries stay inside it."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout >= 3 && var.timeout <= 900
    error_message = "timeout must be between 3 and 900 seconds."
  }
}

variable "tags" {
  description = "Tags for the function and the SMN topic."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------------
# What the timer watches: either a list of pools or a sweep of the project (exactly one of the two)
# ---------------------------------------------------------------------------------------------------

variable "pools" {
  description = "Active/standby pools to watch on every run. Leave empty when `sweep` is set."
  type = list(object({
    pool_id     = string
    listener_id = optional(string)
    job_id      = optional(string)
  }))
  default = []
}

variable "sweep" {
  description = "Watch every active/standby pool of the project matching these filters ({} = all of them)."
  type = object({
    loadbalancer_id       = optional(list(string))
    name                  = optional(list(string))
    enterprise_project_id = optional(list(string))
  })
  default = null
}

variable "scopes" {
  description = <<-EOT
    Several regions/projects from one function: one sweep each, all in the timer's one request
    ({"sweeps": [...]}, at most 10). project_name is the IAM project the agency is granted in
    (default: the region's own project, named like the region). Leave empty when `pools` or `sweep`
    is set.
  EOT
  type = list(object({
    region       = string
    project_id   = string
    project_name = optional(string)
    sweep = optional(object({
      loadbalancer_id       = optional(list(string))
      name                  = optional(list(string))
      enterprise_project_id = optional(list(string))
    }), {})
  }))
  default = []

  validation {
    condition     = length(var.scopes) <= 10
    error_message = "At most 10 scopes per function (the function reads at most 10 sweeps per event)."
  }
}

variable "schedule_type" {
  description = "Timer kind: Rate (schedule like 1m, 5m, 1h) or Cron (schedule like @every 1h30m or a cron line)."
  type        = string
  default     = "Rate"

  validation {
    condition     = contains(["Rate", "Cron"], var.schedule_type)
    error_message = "schedule_type must be Rate or Cron."
  }
}

variable "schedule" {
  description = "How often the timer fires. Default: every minute."
  type        = string
  default     = "1m"
}

variable "timer_enabled" {
  description = "Whether the timer exists (false creates no timer trigger, e.g. while testing by hand)."
  type        = bool
  default     = true
}

variable "report_enabled" {
  description = "Whether a second, weekly timer sends the history's summary ({\"report\":\"weekly\"}) to the receivers."
  type        = bool
  default     = true
}

variable "report_schedule" {
  description = "When the weekly report goes out: a FunctionGraph cron (seconds minutes hours day month weekday), region time. Default Monday 09:00."
  type        = string
  default     = "0 0 9 * * Mon"

  validation {
    condition     = length(split(" ", trimspace(var.report_schedule))) >= 5
    error_message = "report_schedule must be a cron line: seconds minutes hours day-of-month month [day-of-week]."
  }
}

variable "error_alarm" {
  description = <<-EOT
    A Cloud Eye alarm on the function's own errors (SYS.FunctionGraph failcount: crashes, timeouts,
    out of memory), sent to the SMN topic. The function reports its other troubles itself (watcher_error).
  EOT
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------------
# Behaviour (ELB_WATCH_*). null keeps the function's own default, documented in the main README.
# ---------------------------------------------------------------------------------------------------

variable "locale" {
  description = "Language of the human text: en or zh (ELB_WATCH_LOCALE)."
  type        = string
  default     = "en"

  validation {
    condition     = contains(["en", "zh"], var.locale)
    error_message = "locale must be en or zh."
  }
}

variable "log_level" {
  description = "debug, info, warning or error (ELB_WATCH_LOG_LEVEL)."
  type        = string
  default     = "info"
}

variable "auto_diagnosis" {
  description = "Start a member check job when a master fails (ELB_WATCH_DIAGNOSE). Adds elb:members:create."
  type        = bool
  default     = true
}

variable "diagnosis_ttl" {
  description = "Reuse a started check job for this long, e.g. 15m (ELB_WATCH_DIAGNOSE_TTL)."
  type        = string
  default     = null
}

variable "repeat_interval" {
  description = "Repeat a still-firing notification after this long, e.g. 4h (ELB_WATCH_REPEAT_INTERVAL)."
  type        = string
  default     = null
}

variable "fire_after" {
  description = "Consecutive sightings before a finding fires (ELB_WATCH_FIRE_AFTER)."
  type        = number
  default     = null
}

variable "resolve_after" {
  description = "Consecutive absences before a finding resolves (ELB_WATCH_RESOLVE_AFTER)."
  type        = number
  default     = null
}

variable "history_days" {
  description = "Days of episodes the store keeps for alerts history and the weekly report (ELB_WATCH_HISTORY_DAYS, default 90)."
  type        = number
  default     = null
}

variable "history_max" {
  description = "At most this many episodes are kept, oldest dropped first (ELB_WATCH_HISTORY_MAX, default 10000)."
  type        = number
  default     = null
}

variable "group_threshold" {
  description = "Above this many findings for one channel in one run, send digests (ELB_WATCH_GROUP_THRESHOLD)."
  type        = number
  default     = null
}

variable "concurrency" {
  description = "Diagnoses run at once during a sweep (ELB_WATCH_CONCURRENCY)."
  type        = number
  default     = null
}

variable "api_rate" {
  description = "Client-side limit on ELB calls per second (ELB_WATCH_API_RATE)."
  type        = number
  default     = null
}

variable "connect_timeout" {
  description = "Seconds to connect to ELB (ELB_WATCH_CONNECT_TIMEOUT)."
  type        = number
  default     = null
}

variable "read_timeout" {
  description = "Seconds to wait for an ELB answer (ELB_WATCH_READ_TIMEOUT)."
  type        = number
  default     = null
}

variable "reserve_seconds" {
  description = "Seconds of each invocation kept for logging and notifying (ELB_WATCH_RESERVE_SECONDS)."
  type        = number
  default     = null
}

variable "max_attempts" {
  description = "Attempts per ELB read (ELB_WATCH_MAX_ATTEMPTS)."
  type        = number
  default     = null
}

variable "retry_base_seconds" {
  description = "First retry backoff in seconds (ELB_WATCH_RETRY_BASE_SECONDS)."
  type        = number
  default     = null
}

variable "poll_interval_seconds" {
  description = "First wait between check-job reads (ELB_WATCH_POLL_INTERVAL_SECONDS)."
  type        = number
  default     = null
}

# ---------------------------------------------------------------------------------------------------
# State store (ELB_WATCH_STATE): de-duplication across timer runs
# ---------------------------------------------------------------------------------------------------

variable "state_url" {
  description = <<-EOT
    null (default): the function's own SQLite file in /tmp, de-duplicating within one warm instance.
    redis://:password@host:6379/0 (or rediss://) for DCS: shared by every instance, outlives them
    (needs vpc_id/subnet_id and a NAT gateway, see README). "off": no de-duplication.
    Sensitive: a Redis URL holds a password.
  EOT
  type        = string
  default     = null
  sensitive   = true
}

variable "vpc_id" {
  description = <<-EOT
    VPC to attach the function to (needed to reach a DCS Redis). null: no VPC access. With a VPC the
    function loses FunctionGraph's default internet access: chat webhooks then need a NAT gateway with
    an EIP (SNAT rule for subnet_id), see README.
  EOT
  type        = string
  default     = null
}

variable "subnet_id" {
  description = "Subnet (network id) in vpc_id for the function."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------------------------------
# Notification channels. SMN (email/SMS) is created here; chat webhooks carry tokens and are sensitive.
# ---------------------------------------------------------------------------------------------------

variable "smn_topic_name" {
  description = "Name of the SMN topic the function publishes to (ELB_WATCH_SMN_TOPIC_URN)."
  type        = string
  default     = "elb-master-watch-alerts"
}

variable "alert_emails" {
  description = "Email addresses subscribed to the topic. Each recipient must confirm the SMN email."
  type        = list(string)
  default     = []
}

variable "alert_phone_numbers" {
  description = "Phone numbers (+8613800000000) subscribed to the topic by SMS."
  type        = list(string)
  default     = []
}

variable "feishu_webhook" {
  description = "Feishu/Lark custom bot webhook URL (ELB_WATCH_FEISHU_WEBHOOK)."
  type        = string
  default     = null
  sensitive   = true
}

variable "feishu_secret" {
  description = "Feishu/Lark bot signing secret (ELB_WATCH_FEISHU_SECRET)."
  type        = string
  default     = null
  sensitive   = true
}

variable "dingtalk_webhook" {
  description = "DingTalk custom robot webhook URL (ELB_WATCH_DINGTALK_WEBHOOK)."
  type        = string
  default     = null
  sensitive   = true
}

variable "dingtalk_secret" {
  description = "DingTalk robot signing secret (ELB_WATCH_DINGTALK_SECRET)."
  type        = string
  default     = null
  sensitive   = true
}

variable "wecom_webhook" {
  description = "WeCom group robot webhook URL (ELB_WATCH_WECOM_WEBHOOK)."
  type        = string
  default     = null
  sensitive   = true
}

variable "slack_webhook" {
  description = "Slack incoming webhook URL (ELB_WATCH_SLACK_WEBHOOK)."
  type        = string
  default     = null
  sensitive   = true
}

variable "webhook_url" {
  description = "Generic (Alertmanager-compatible) webhook URL (ELB_WATCH_WEBHOOK_URL)."
  type        = string
  default     = null
  sensitive   = true
}

variable "webhook_secret" {
  description = "HMAC secret for the generic webhook's X-Signature header (ELB_WATCH_WEBHOOK_SECRET)."
  type        = string
  default     = null
  sensitive   = true
}

# ---------------------------------------------------------------------------------------------------
# Event path (infra/events.tf): Cloud Eye alarms -> SMN -> the function, beside the timer. Empty list:
# no alarm rules, topic or SMN trigger are created.
# ---------------------------------------------------------------------------------------------------

variable "alarm_loadbalancer_ids" {
  description = "Load balancers that get a Cloud Eye alarm rule on m9_abnormal_servers routed to the function."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.alarm_loadbalancer_ids : can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", id))])
    error_message = "alarm_loadbalancer_ids: load balancer ids (letters, digits, '-' and '_', at most 64)."
  }
}

variable "alarm_period" {
  description = "Seconds Cloud Eye aggregates over: 1 uses the raw data (about a minute to alarm), or 300, 1200, 3600."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 300, 1200, 3600, 14400, 86400], var.alarm_period)
    error_message = "alarm_period must be 1, 300, 1200, 3600, 14400 or 86400."
  }
}

variable "alarm_count" {
  description = "Consecutive periods with an unhealthy backend before the alarm fires (1..5)."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_count >= 1 && var.alarm_count <= 5
    error_message = "alarm_count must be between 1 and 5."
  }
}

variable "alarm_level" {
  description = "Cloud Eye alarm severity: 1 critical, 2 major, 3 minor, 4 informational."
  type        = number
  default     = 2

  validation {
    condition     = contains([1, 2, 3, 4], var.alarm_level)
    error_message = "alarm_level must be 1, 2, 3 or 4."
  }
}

variable "welink_webhook" {
  description = "WeLink group robot webhook URL with its token (ELB_WATCH_WELINK_WEBHOOK)."
  type        = string
  default     = null
  sensitive   = true
}

variable "teams_webhook" {
  description = "Microsoft Teams Workflows webhook URL with its sig (ELB_WATCH_TEAMS_WEBHOOK)."
  type        = string
  default     = null
  sensitive   = true
}

variable "coc_integration_key" {
  description = <<-EOT
    Key of a COC (Cloud Operations Center) custom alarm integration (ELB_WATCH_COC_INTEGRATION_KEY):
    every finding becomes a COC alarm, its recovery clears it. COC's intake needs no IAM action.
  EOT
  type        = string
  default     = null
  sensitive   = true
}

variable "coc_region" {
  description = "COC site the alarms go to: cn-north-4, ap-southeast-3 or eu-west-101 (ELB_WATCH_COC_REGION)."
  type        = string
  default     = null
}

variable "coc_application_id" {
  description = "applicationId of the COC alarms (ELB_WATCH_COC_APPLICATION_ID); null: elb-master-watch."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------------------------------
# Routing (ELB_WATCH_ROUTES): receivers and routes per team, see docs/reference.md
# ---------------------------------------------------------------------------------------------------

variable "routes" {
  description = <<-EOT
    The routing file: a path inside the package (e.g. "routes.yaml", put next to index.py in the zip;
    relative paths are read from the code root) or inline JSON starting with "{". Secrets in it are
    written as $${NAME} and given in route_secrets. null: every alert goes to every channel.
  EOT
  type        = string
  default     = null
}

variable "route_secrets" {
  description = <<-EOT
    The values the routing file refers to as $${NAME} (receivers' webhook URLs and signing secrets),
    e.g. { PAY_FEISHU_URL = "https://open.feishu.cn/...", PAY_FEISHU_SECRET = "..." }. They travel as
    encrypted environment variables; Terraform never prints them.
  EOT
  type        = map(string)
  default     = {}
  sensitive   = true

  validation {
    condition = alltrue([
      for name in keys(var.route_secrets) :
      can(regex("^[A-Za-z_][A-Za-z0-9_]{0,127}$", name)) && !startswith(name, "ELB_WATCH_") && !startswith(name, "HUAWEICLOUD_") && !startswith(name, "RUNTIME_")
    ])
    error_message = "route_secrets names must be environment variable names ([A-Za-z_][A-Za-z0-9_]*), not ELB_WATCH_*, HUAWEICLOUD_* or RUNTIME_*."
  }
}

# ---------------------------------------------------------------------------------------------------
# Cloud Eye custom metrics and the heartbeat (infra/metrics.tf, ELB_WATCH_METRICS*)
# ---------------------------------------------------------------------------------------------------

variable "metrics" {
  description = "Push Cloud Eye custom metrics every run (ELB_WATCH_METRICS): per pool master_up, failover_active, failed_check_items; per run watch_runs, watch_errors, notifications_sent. Grants ces:metricData:create."
  type        = bool
  default     = false
}

variable "metrics_namespace" {
  description = "Cloud Eye namespace of the metrics (ELB_WATCH_METRICS_NAMESPACE): service.item, 3-32 characters, not SYS., AGT. or SRE."
  type        = string
  default     = "ELB.MasterWatch"

  validation {
    condition = (
      can(regex("^[A-Za-z][A-Za-z0-9_]*\\.[A-Za-z][A-Za-z0-9_]*$", var.metrics_namespace))
      && length(var.metrics_namespace) >= 3 && length(var.metrics_namespace) <= 32
      && !contains(["SYS", "AGT", "SRE"], upper(split(".", var.metrics_namespace)[0]))
      && upper(var.metrics_namespace) != "SERVICE.BMS"
    )
    error_message = "metrics_namespace must be service.item (letters, digits, '_', each part starting with a letter), 3 to 32 characters, not SYS.*, AGT.*, SRE.* or SERVICE.BMS."
  }
}

variable "heartbeat_alarm" {
  description = "With metrics and the timer on: a Cloud Eye alarm on watch_runs when the function runs fewer times than its timer asks, to the SMN topic."
  type        = bool
  default     = true
}

variable "heartbeat_min_runs" {
  description = "Runs per heartbeat period below which the heartbeat fires. null: half of what a Rate schedule makes (required for a Cron schedule, whose period is an hour)."
  type        = number
  default     = null

  validation {
    condition     = var.heartbeat_min_runs == null ? true : var.heartbeat_min_runs >= 1
    error_message = "heartbeat_min_runs must be at least 1."
  }
}

variable "heartbeat_periods" {
  description = "Consecutive periods with too few runs before the heartbeat fires (1..5)."
  type        = number
  default     = 3

  validation {
    condition     = var.heartbeat_periods >= 1 && var.heartbeat_periods <= 5
    error_message = "heartbeat_periods must be between 1 and 5."
  }
}

# ---------------------------------------------------------------------------------------------------
# Action links (issue 23): acknowledge or silence an alert from its message (actions.tf)
# ---------------------------------------------------------------------------------------------------

variable "actions_apig_instance_id" {
  description = "An existing dedicated APIG gateway for the action links' API (ANY /a/{token}). null: no links."
  type        = string
  default     = null
}

variable "actions_key" {
  description = "ELB_WATCH_ACTIONS_KEY: the links' signing key, at least 32 bytes (openssl rand -base64 48). Sensitive."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = try(length(var.actions_key) >= 32, var.actions_key == null)
    error_message = "actions_key must be at least 32 bytes (openssl rand -base64 48)."
  }
}

variable "actions_domain" {
  description = "A domain of your own for the links, bound to the group with its certificate (console); null: the group's debugging domain."
  type        = string
  default     = null
}

variable "actions_requests_per_minute" {
  description = "Throttling of the action API: requests per minute in all (per source address: at most 20)."
  type        = number
  default     = 60
}
