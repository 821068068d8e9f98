# ---- action links (issue 23): the APIG API `ANY /a/{token}` whose backend is this function ------------
# Created only with var.actions_apig_instance_id (an existing dedicated APIG gateway: one costs money,
# so it is never created here). No APIG authentication: the signed token in the path is the
# credential (HMAC-SHA256 with ELB_WATCH_ACTIONS_KEY), and the function limits bad tokens per source
# address itself; the throttling policy below bounds what reaches it at all.

locals {
  actions_on = var.actions_apig_instance_id != null
  # The group and API names allow letters, digits and '-'; the environment's letters, digits and '_'.
  actions_name = replace(var.function_name, "_", "-")
  # The links' public base: a domain of your own bound to the group (with its certificate: the console,
  # or huaweicloud_apig_group_domain_associate from provider 1.73.4), else the group's debugging domain.
  actions_url = !local.actions_on ? null : var.actions_domain != null ? "https://${var.actions_domain}" : "https://${data.huaweicloud_apig_groups.actions[0].groups[0].sl_domain}"
}

resource "huaweicloud_apig_group" "actions" {
  count = local.actions_on ? 1 : 0

  instance_id = var.actions_apig_instance_id
  name        = "${local.actions_name}-actions"
  description = "elb-master-watch action links: acknowledge or silence an alert from its message"
}

data "huaweicloud_apig_groups" "actions" {
  count = local.actions_on ? 1 : 0

  instance_id = var.actions_apig_instance_id
  group_id    = huaweicloud_apig_group.actions[0].id
}

resource "huaweicloud_apig_environment" "actions" {
  count = local.actions_on ? 1 : 0

  instance_id = var.actions_apig_instance_id
  name        = "${replace(var.function_name, "-", "_")}_actions"
  description = "Where the elb-master-watch action API is published"
}

resource "huaweicloud_apig_api" "actions" {
  count = local.actions_on ? 1 : 0

  instance_id             = var.actions_apig_instance_id
  group_id                = huaweicloud_apig_group.actions[0].id
  type                    = "Public"
  name                    = "${local.actions_name}-actions"
  description             = "GET shows the confirm page of an action link, POST carries it out (once)"
  request_protocol        = "HTTPS"
  request_method          = "ANY"
  request_path            = "/a/{token}"
  security_authentication = "NONE" # the token is the credential
  matching                = "Exact"

  request_params {
    name     = "token"
    location = "PATH"
    type     = "STRING"
    required = true
    maximum  = 200
  }

  func_graph {
    function_urn    = huaweicloud_fgs_function.watch.urn
    version         = "latest"
    timeout         = min(var.timeout, 60) * 1000
    invocation_type = "sync"
  }

  lifecycle {
    precondition {
      condition     = var.actions_key != null
      error_message = "actions_apig_instance_id needs actions_key (at least 32 bytes, e.g. openssl rand -base64 48)."
    }
    precondition {
      condition     = can(regex("^rediss?://", coalesce(var.state_url, "instance")))
      error_message = "Action links need a store every instance shares: set state_url to a redis:// or rediss:// (DCS) URL."
    }
  }
}

resource "huaweicloud_apig_api_publishment" "actions" {
  count = local.actions_on ? 1 : 0

  instance_id = var.actions_apig_instance_id
  env_id      = huaweicloud_apig_environment.actions[0].id
  api_id      = huaweicloud_apig_api.actions[0].id
}

resource "huaweicloud_apig_throttling_policy" "actions" {
  count = local.actions_on ? 1 : 0

  instance_id      = var.actions_apig_instance_id
  name             = "${replace(var.function_name, "-", "_")}_actions"
  description      = "People click links: a few requests a minute per address, a bounded total"
  type             = "API-based"
  period           = 1
  period_unit      = "MINUTE"
  max_api_requests = var.actions_requests_per_minute
  max_ip_requests  = min(var.actions_requests_per_minute, 20)
}

resource "huaweicloud_apig_throttling_policy_associate" "actions" {
  count = local.actions_on ? 1 : 0

  instance_id = var.actions_apig_instance_id
  policy_id   = huaweicloud_apig_throttling_policy.actions[0].id
  publish_ids = [huaweicloud_apig_api_publishment.actions[0].publish_id]
}
