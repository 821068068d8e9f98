"""Every human sentence in English: the records' titles and text, resolved notices, and channel labels.

Cloud values go in through the {placeholders}, never the other way round.
"""

RECORD: dict[str, str] = {
    "critical": "CRITICAL",
    "major": "MAJOR",
    "warning": "WARNING",
    "info": "INFO",
    "failover": "{tag} {pool}: master {master} down, traffic failed over to standby {standby}",
    "no_standby": "{tag} {pool}: master {master} down and there is no standby",
    "outage": "{tag} {pool}: master and standby both down",
    "no_master": "{tag} {pool}: no master member in the active/standby pool",
    "no_monitor": "{tag} {pool}: no health check, master {master} health unknown",
    "master_unknown": "{tag} {pool}: master {master} is {state}, not ONLINE",
    "standby_failed": "{tag} {pool}: standby {standby} down, no failover available",
    "check_failed": "{tag} {subject}: member check found {count} {noun}",
    "check_member": "member {member}",
    "problem": "problem",
    "problems": "problems",
    "unexplained": "unexplained",
    "Master": "Master",
    "Standby": "Standby",
    "member_is": "{role} {label} ({where}) is {state}",
    "on_listener": " on listener {listeners}",
    "end": ".",
    "why": "Why: {reason}.",
    "failed_over": ": traffic has failed over to it.",
    "nowhere": "No standby member: the pool has nowhere to fail over.",
    "monitor_off": (
        "The pool has no enabled health check, so ELB cannot tell whether the master is healthy."
    ),
    "progress": "{finished}/{total} items",
    "progress_unknown": "progress unknown",
    "impossible_counters": "ELB reported impossible progress counters ({counters}); shown clamped.",
    "items_omitted": "- … and {count} more failed items (ELB listed more than this function keeps).",
    "check_job": "Check job {job_id} ({status}, {progress}): {failed} failed.",
    "group_no_details": "- {group} check failed; ELB gave no item details.",
    "group_incomplete": "- {group} check could not complete.",
    "still_running": "The check job was still running; the items above are what was known so far.",
    "pool_line": "Pool {name} ({id}), {protocol}, region {region}, project {project}.",
    "region_line": "Region {region}, project {project}.",
    "config": "config",
    "acl": "network ACL",
    "security_group": "security group",
    "resolved": "RESOLVED",
    "role_master": "master",
    "role_standby": "standby",
    "span": "from {start} to {end}, {lasted}",
    "r_monitor_title": "{tag} {pool}: master {name} is health-checked again after {lasted}",
    "r_monitor_line": "The pool's health check sees master {name} ({address}) again: it is {status}.",
    "r_monitor_span": "It had no working health check {span}.",
    "r_back_title": "{tag} {pool}: {role} {name} is back ONLINE after {lasted}",
    "r_back_line": "{Role} {name} ({address}) is back ONLINE.",
    "r_was": "It was {was}{code} {span}.",
    "r_other_title": "{tag} {pool}: {role} {name} is no longer {was} after {lasted} (now {status})",
    "r_other_line": "{Role} {name} ({address}) is no longer {was}: it is {status} now.",
    "r_master_title": "{tag} {pool}: the pool has a master again after {lasted}",
    "r_master_line": "A member has the master role again; the pool had none {span}.",
    "r_check_title": "{tag} {subject}: the member check problems are gone after {lasted}",
    "r_check_line": "The problems the member check reported {span} are no longer reported.",
    "r_check_items": "They were: {items}.",
    "r_confirmed": "Confirmed by {checks} consecutive checks without it; last seen at {last_seen}.",
    "r_watcher_title": "{tag} elb-master-watch works again: {code} is gone after {lasted}",
    "r_watcher_line": "The watcher's own error {code} is no longer reported; it lasted {span}.",
}
"""Record titles and text (`handler.notify`) and resolved notices (`handler.lifecycle`)."""

CHANNEL: dict[str, str] = {
    "firing": "FIRING",
    "resolved": "RESOLVED",
    "critical": "CRITICAL",
    "major": "MAJOR",
    "warning": "WARNING",
    "info": "INFO",
    "master": "Master",
    "master_reason": "Master reason",
    "listeners": "Failed listeners",
    "standby": "Standby",
    "standby_reason": "Standby reason",
    "no_standby": "none, nowhere to fail over",
    "check_job": "Check job",
    "failed_count": "{n} failed",
    "pool": "Pool",
    "region": "Region",
    "project": "Project",
    "observed_at": "Observed at",
    "fingerprint": "Fingerprint",
    "items": "Failed check items",
    "more": "… and {n} more",
    "cut_to_fit": "… the rest was cut to fit {channel}'s {limit} message limit",
    "group_no_details": "{group}: check failed, ELB gave no item details",
    "group_incomplete": "{group}: check could not complete",
    "processing": "The check job was still running: these are the items known so far.",
    "reason_first": "new",
    "reason_changed": "changed",
    "reason_repeat": "still failing",
    "reason_resolved": "recovered",
    "group_config": "config",
    "group_acl": "network ACL",
    "group_security_group": "security group",
    "digest_kind": "digest",
    "digest_items": "Pools",
    "digest_acknowledged": "acknowledged by {by}",
    "digest_one": "1 pool",
    "digest_many": "{n} pools",
    "digest_master_failed_critical": "master down, no failover",
    "digest_master_failed_major": "master down, traffic on standby",
    "digest_master_failed": "master down",
    "digest_no_master": "no master member",
    "digest_master_unknown": "master health unknown",
    "digest_no_monitor": "no health check on the master",
    "digest_standby_failed": "standby down, no failover available",
    "digest_check_failed": "member check found problems",
    "digest_mixed": "need attention",
    "digest_resolved": "recovered",
    "watcher_code": "Error code",
    "watcher_message": "Error",
    "watcher_action": "What to do",
    "link_runbook": "Runbook",
    "link_console": "Open in console",
    # The action links (issue 23: handler.actions).
    "link_ack": "Acknowledge",
    "link_silence_1h": "Silence 1h",
    "link_silence_4h": "Silence 4h",
    "link_silence_resolved": "Silence until resolved",
    "links": "Links",
}
"""Labels the channel renderers share (`channels.message`) and digest titles (`channels.digest`)."""

REASON_CODES: dict[str, str] = {
    "CONNECT_TIMEOUT": "the health-check connection to the backend timed out",
    "CONNECT_REFUSED": "the backend refused the health-check connection",
    "CONNECT_FAILED": "the health-check connection to the backend failed",
    "CONNECT_INTERRUPT": "the health-check connection to the backend was interrupted",
    "SSL_HANDSHAKE_ERROR": "the SSL handshake with the backend failed",
    "RECV_RESPONSE_FAILED": "receiving the health-check response from the backend failed",
    "RECV_RESPONSE_TIMEOUT": "the backend's health-check response timed out",
    "SEND_REQUEST_FAILED": "sending the health-check request to the backend failed",
    "SEND_REQUEST_TIMEOUT": "sending the health-check request to the backend timed out",
    "RESPONSE_FORMAT_ERROR": "the backend's health-check response was malformed",
    "RESPONSE_MISMATCH": "the backend answered the health check with an unexpected status code",
}
"""ELB's health-check reason codes (MemberHealthCheckFailedReason.reason_code), in plain words."""

REASON: dict[str, str] = {
    "none": "ELB gave no reason (the instance may be stopped or deleted)",
    "unknown": "health check failed ({code})",
    "expected": " (expected {expected}, got {actual})",
}
"""How a reason code is said when ELB gives none or one we do not know, and the expected/actual suffix."""


# The watcher's own failures (watcher_error): titles by scope, and what to do per code or HTTP status.
WATCHER: dict[str, str] = {
    "watcher:config": "a setting is unusable",
    "watcher:setup": "cannot read ELB, it is not set up",
    "watcher:elb-reach": "cannot reach ELB",
    "watcher:elb-access": "ELB refuses access",
    "watcher:store": "state store unusable, alerts are not de-duplicated",
    "watcher:delivery": "every notification channel failed",
    "": "is broken",
    "what": "What to do",
    "title": "[{severity}] elb-master-watch {what}: {code}{status}",
    "text": "{message}\n{what}: {action}",
    "status": " (HTTP {status})",
    "critical": "CRITICAL",
    "warning": "WARNING",
}
WATCHER_ADVICE: dict[str, str] = {
    "APIGW.0301": (
        "The ELB API rejected the signature: wrong AK/SK or an expired security token. Check the "
        "function's agency, or HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK."
    ),
    "401": (
        "The ELB API rejected the credentials: check the function's agency, or "
        "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK and the security token."
    ),
    "403": (
        "Permission denied: give the agency (or user) elb:pools:get, elb:pools:list, elb:members:get "
        "and elb:members:create, and check the project id belongs to the region."
    ),
    "CONFIG.REGION": "Set ELB_WATCH_REGION (or put 'region' in the event) to a region the SDK knows.",
    "CONFIG.PROJECT_ID": "Set HUAWEICLOUD_SDK_PROJECT_ID (or put 'project_id' in the event).",
    "CONFIG.CREDENTIALS": "Give the function an agency, or set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK.",
    "CONFIG.INVALID": "Fix the variable the message names (every setting: docs/reference.md, Configuration).",
    "WATCH.CONNECTION": (
        "Check the function's network: with vpc_id set it needs a NAT gateway with an EIP; "
        "check any HUAWEICLOUD_SDK_REGION_ELB_* endpoint override."
    ),
    "WATCH.TIMEOUT": (
        "ELB did not answer in time: check the function's network (VPC/NAT) and endpoint override, "
        "or raise the function timeout."
    ),
    "WATCH.STATE": (
        "Alerts are not de-duplicated until the store works again: check ELB_WATCH_STATE (address, "
        "password, TLS) and that the function's VPC reaches it."
    ),
    "WATCH.CHANNELS": (
        "No channel accepted a notification: see `deliveries` in the result and the log; check the "
        "webhook URLs, keys and SMN topic, and the function's internet access (NAT when vpc_id is set)."
    ),
    "": "See the Troubleshooting table of docs/reference.md and the log line of this run.",
}

# The weekly report (`{"report": "weekly"}`, handler.report): one message with the history's summary.
REPORT: dict[str, str] = {
    "title": "[REPORT] ELB master watch, last {days} days: {episodes} episodes, {failovers} failovers, "
    "{outages} outages",
    "quiet_title": "[REPORT] ELB master watch, last {days} days: no episode",
    "span": "From {start} to {end}.",
    "quiet": "No pool failed: nothing fired in these days.",
    "pool": "{pool}: {episodes} episodes, {failovers} failovers, {outages} outages, MTTR {mean} "
    "(p90 {p90}), top cause: {cause}",
    "open": "still open",
    "more": "… and {more} more pools (elb-master-watch alerts history --since {days}d)",
    "none": "-",
    "period": "Period",
    "period_value": "{start} → {end}",
    "totals": "Totals",
    "totals_value": "{episodes} episodes · {failovers} failovers · {outages} outages · {pools} pools",
    "pools": "Pools",
}


# Action links (issue 23): the links' labels, the pages they open, the announcement of what was done.
ACTIONS: dict[str, str] = {
    "lang": "en",
    "heading": "elb-master-watch",
    "alert": "Alert",
    "pool": "Pool",
    "master": "Master",
    "why": "Why",
    "what_silence_1h": "Silence this alert for 1 hour: its notifications are held until {until}.",
    "what_silence_4h": "Silence this alert for 4 hours: its notifications are held until {until}.",
    "what_silence_resolved": (
        "Silence this alert until it resolves: its notifications are held until the run that sees it "
        "resolved (its resolved notice is still sent), for at most 90 days."
    ),
    "what_ack": "Acknowledge this alert: its repeats stop until it changes or resolves.",
    "what_after": "Everyone who got the alert is told who did it. `silence list` shows it.",
    "name": "Your name",
    "comment": "Comment (optional)",
    "did_silence_1h": "silenced for 1h",
    "did_silence_4h": "silenced for 4h",
    "did_silence_resolved": "silenced until resolved",
    "did_ack": "acknowledged",
    "done_title": "Done",
    "done": "The alert is {did} by {name}.",
    "done_silence": "Silence {id}, until {until}.",
    "told": "Told: {receivers}.",
    "told_none": "No receiver got the alert, so none was told.",
    "already_title": "Already done",
    "already": "Already done by {name} at {at}: nothing more was changed.",
    "expired_title": "This link has expired",
    "expired_aged": "Links work for 24 hours; this one is older.",
    "expired_changed": (
        "The alert changed, was notified again or resolved since this message: its links stopped."
    ),
    "expired_hint": "Use the links of the latest message, or `elb-master-watch silence add`.",
    "forged_title": "This link is not valid",
    "forged": "The link is damaged, or was not made by this function. Open the whole link from the message.",
    "unknown_title": "Unknown alert",
    "unknown": "The store holds no alert for this link (it may have been dropped after 30 days).",
    "limited_title": "Too many invalid links",
    "limited": "Too many invalid links came from your address: try again in 10 minutes.",
    "off_title": "Action links are off",
    "unavailable_title": "Try again",
    "unavailable": "The state store did not answer: nothing was done. Try again in a minute.",
    "stale_title": "The form is stale",
    "stale": "This form was not the one the link served: open the link again and submit from there.",
    "unsupported_title": "Not available",
    "unsupported": "This action is not available yet.",
    "method_title": "Not allowed",
    "method": "Open the link (GET) and submit its form (POST).",
    "announce": "{alert}: {did} by {name} via link",
    "announce_text": "{did} by {name} via link at {at}.",
    "announce_until": "Silence {id} until {until}.",
    "announce_comment": "Comment: {comment}",
}
