"""`invoke --output text` on one screen: the alert once, one delivery summary, holds with their end."""

from __future__ import annotations

from handler.textview import SCREEN_LINES, render_result

CHANNELS = ("smn", "feishu", "dingtalk", "wecom", "slack", "webhook", "welink", "teams")


def record(n: int) -> dict:
    return {
        "status": "firing",
        "severity": "major",
        "kind": "master_failed",
        "notification_reason": "first",
        "fingerprint": f"fp{n:014d}",
        "title": f"[MAJOR] fleet-pool-{n:05d}: master master-{n:05d} down, traffic failed over",
        "text": "\n".join(f"line {i} of the alert" for i in range(9)),
    }


def storm(failed: int = 500) -> dict:
    """A result as a 500-master storm gives it: digests on every channel, some owed, some held."""
    notifications = [record(n) for n in range(failed)]
    deliveries = []
    for channel in CHANNELS:
        for n, notification in enumerate(notifications):
            status = "sent"
            error = None
            if channel == "welink" and n >= 120:
                status, error = "deferred", "no rate-limit slot left this run"
            if channel == "slack" and n % 50 == 0:
                status, error = "failed", "HTTP 500: boom"
            deliveries.append(
                {
                    "fingerprint": notification["fingerprint"],
                    "channel": channel,
                    "status": status,
                    "attempts": 1,
                    "error": error,
                    "digest": {"title": "[MAJOR] 500 masters down", "part": n // 25 + 1, "parts": 20},
                }
            )
    held = [
        {
            "fingerprint": f"held{n:012d}",
            "scope": "pool",
            "state": "firing",
            "why": f"silenced by sil-{n} (pool=p{n}) until 2026-12-04T10:00:00Z",
            "silence_id": f"sil-{n}",
            "silenced_until": "2026-12-04T10:00:00Z",
        }
        for n in range(30)
    ]
    errors = [{"code": "ELB.TIMEOUT", "message": f"pool p{n}: timed out", "status": None} for n in range(40)]
    return {
        "notifications": notifications,
        "deliveries": deliveries,
        "held": held,
        "errors": errors,
        "targets": [],
        "sweeps": [{"status": "assessed"}],
        "deduplication": "on",
    }


def test_a_500_master_storm_fits_one_screen_and_says_how_to_see_the_rest():
    text = render_result(storm())
    lines = text.splitlines()
    assert len(lines) <= SCREEN_LINES == 60
    assert "--output json prints everything" in text
    assert text.count("fleet-pool-00000") == 1  # the alert body once, never once per channel
    assert lines[-1].endswith("500 notification(s), 40 error(s); de-duplication on")
    header = next(line for line in lines if line.strip().startswith("RECEIVER"))
    assert header.split() == ["RECEIVER", "SENT", "DEFERRED", "HELD", "FAILED", "MESSAGES", "DETAIL"]
    rows = {
        line.split()[0]: line.split() for line in lines if line.split()[:1] and line.split()[0] in CHANNELS
    }
    assert rows["feishu"][1:6] == ["500", "0", "0", "0", "20"]
    assert rows["welink"][1:6] == ["120", "380", "0", "0", "20"]
    assert rows["slack"][1:5] == ["490", "0", "0", "10"]
    assert "10x HTTP 500: boom" in " ".join(rows["slack"])  # each failure with its error


def test_the_silence_that_holds_an_alert_is_shown_with_its_end():
    text = render_result(storm(3))
    assert "held000000000000  firing  silence sil-0 until 2026-12-04T10:00:00Z" in text
    assert "Held (not notified this run): 30" in text


def test_a_worst_case_result_still_fits():
    result = storm()
    result["undelivered"] = [{"channel": "slack", "status": "failed", "fingerprint": "x"}] * 50
    result["deliveries"] += [
        {"fingerprint": "x", "channel": "webhook", "receiver": f"team-{n}", "status": "sent"}
        for n in range(30)
    ]
    result["notifications"][0]["text"] = "\n".join(f"item {i}" for i in range(200))
    result["dry_run"] = True
    result["would_start"] = [{"member_id": f"m{n}", "listener_id": "l"} for n in range(50)]
    assert len(render_result(result).splitlines()) <= SCREEN_LINES


def test_a_receiver_names_its_row_and_a_dry_run_counts_rendered():
    result = {
        "dry_run": True,
        "notifications": [record(1)],
        "deliveries": [
            {"fingerprint": "fp1", "channel": "slack", "receiver": "oncall", "status": "dry_run"},
            {"fingerprint": "fp1", "channel": "feishu", "receiver": "oncall", "status": "dry_run"},
            {
                "fingerprint": "fp1",
                "channel": "webhook",
                "status": "silenced",
                "error": "silenced by s1 until Z",
            },
        ],
    }
    lines = render_result(result).splitlines()
    assert "  RECEIVER  RENDERED  DEFERRED  HELD  FAILED  MESSAGES  DETAIL" in lines
    assert ["oncall", "2", "0", "0", "0", "2", "-"] in [line.split() for line in lines]
    assert ["webhook", "0", "0", "1", "0", "1", "silenced", "by", "s1", "until", "Z"] in [
        line.split() for line in lines
    ]
    assert not any("Not all shown" in line for line in lines)


def test_the_first_alert_shows_its_runbook_and_console_links_and_a_storm_still_fits():
    links = [
        {"name": "runbook", "url": "https://wiki.example.com/rb?pool=p0"},
        {"name": "console", "url": "https://console.huaweicloud.com/elb/?region=cn-north-4#/elb/detail/lb-0"},
        {"name": "silence_1h", "url": "https://actions.example.com/a/never-shown"},
    ]
    result = storm()
    for notification in result["notifications"]:
        notification["links"] = links
    lines = render_result(result).splitlines()
    assert len(lines) <= SCREEN_LINES
    assert "  Runbook: https://wiki.example.com/rb?pool=p0" in lines
    assert any(line.startswith("  Open in console: https://console.huaweicloud.com/") for line in lines)
    assert not any("never-shown" in line for line in lines)
