"""The operator's commands: `channels test`, `alerts list`, `silence add|list|update|expire`.

They read the same variables as the function (`ELB_WATCH_STATE`, the channel variables), so run them
with the function's configuration exported. Each returns the process exit status:
0 done, 1 the store or a channel's configuration cannot be used (or the silence is unknown or ended),
2 a bad `--match` matcher, 3 a test message was not delivered, 64 usage error.
(`alerts ack|unack` live in `handler.acking`.)
"""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from handler.config import ConfigError, parse_duration, resolve_credentials, resolve_project_id
from handler.matchers import Matcher, MatcherError, parse_matchers
from handler.silences import MAX_SILENCE_SECONDS, Silence, iso, new_silence, silencing
from handler.state import StateStore, StoreUnavailable, open_store
from handler.textview import dumps, emit, table

EXIT_OK = 0
EXIT_UNAVAILABLE = 1
EXIT_BAD_MATCHER = 2
EXIT_NOT_DELIVERED = 3
EXIT_USAGE = 64
NO_STORE = (
    "no state store (ELB_WATCH_STATE=off): export ELB_WATCH_STATE, the same URL the function uses "
    "(instance, sqlite:///abs/path/state.db, redis://host:6379/0 or rediss://...)"
)


def _say(message: str) -> None:
    emit(f"elb-master-watch: {message}", sys.stderr)


def _open(env: Mapping[str, str]) -> StateStore | None:
    """The configured store (the function's default, `instance`, when unset), or None after saying why."""
    try:
        store = open_store(env.get("ELB_WATCH_STATE", "").strip() or "instance")
    except ConfigError as exc:
        _say(str(exc))
        return None
    if store is None:
        _say(NO_STORE)
    return store


# -- channels test ----------------------------------------------------------------------------------


def sample_record(now: float, region: str | None) -> dict[str, Any]:
    """The clearly-marked test notification `channels test` sends: no pool, severity info."""
    host = socket.gethostname() or "?"
    return {
        "status": "firing",
        "severity": "info",
        "kind": "test",
        "fingerprint": f"test-{uuid.uuid4().hex[:12]}",
        "title": "[TEST] elb-master-watch: test notification, no action needed",
        "text": (
            f"This is a test message from `elb-master-watch channels test` on {host} at {iso(now)}.\n"
            "No ELB pool has failed. If you read this, the channel works: real alerts will arrive here."
        ),
        "region": region or "",
        "observed_at": iso(now),
        "notification_reason": "first",
    }


def _chosen_channels(
    only: str | None, env: Mapping[str, str], receiver: str | None = None
) -> tuple[Any, list[Any], list[str]] | int:
    """The settings, the receivers to test and their configuration problems; an exit status when none.

    The receivers are the function's: the ELB_WATCH_* channels and the routing file's. `only` keeps
    those of one channel type, `receiver` the one of that name.
    """
    from handler.config import read_settings  # noqa: PLC0415
    from handler.domain import CHANNEL_NAMES  # noqa: PLC0415
    from handler.routes_cli import read_receivers  # noqa: PLC0415

    if only is not None and only not in CHANNEL_NAMES:
        _say(f"unknown channel {only!r}: use one of {', '.join(CHANNEL_NAMES)}")
        return EXIT_USAGE
    settings, fallbacks = read_settings(env)
    for fallback in fallbacks:  # a bad locale or timeout is not the channel's problem: its default is used
        _say(fallback)
    receivers = read_receivers(env)
    problems = [
        p for p in receivers.problems if (only is None or f"the {only} channel" in p) and receiver is None
    ]
    for problem in problems:
        _say(problem)
    channels = [
        channel
        for channel in receivers.channels
        if (only is None or channel.type == only) and (receiver is None or channel.name == receiver)
    ]
    if receiver is not None and not channels:
        known = ", ".join(receivers.names) or "none is configured"
        _say(
            f"no receiver named {receiver!r} (receivers: {known}); `elb-master-watch config check` lists them"
        )
        return EXIT_UNAVAILABLE
    if not channels:
        if not problems:
            wanted = f"the {only} channel is not" if only else "no channel is"
            _say(f"{wanted} configured: set its ELB_WATCH_* variable (docs/reference.md lists them)")
        return EXIT_UNAVAILABLE
    return settings, channels, problems


def _report_test(
    record: Mapping[str, Any], report: list[dict[str, Any]], problems: list[str], output: str
) -> int:
    """Print what each channel did with the test message; the exit status."""
    if output == "json":
        emit(dumps({"test": record["title"], "channels": report, "problems": problems}))
    else:
        sent = sum(1 for r in report if r["status"] == "sent")
        if sent:  # a header that says "Sent" only over what was
            emit(f"Sent {record['title']!r} ({record['fingerprint']}) to {sent} of {len(report)} channel(s):")
        else:
            emit(
                f"Not sent {record['title']!r} ({record['fingerprint']}) to any of {len(report)} channel(s):"
            )
        # The receiver column only when some receiver is not simply named after its channel type.
        named = any(r["receiver"] != r["channel"] for r in report)
        heads = ("receiver", "channel", "status", "attempts", "error")[0 if named else 1 :]
        rows = [
            [r["receiver"], r["channel"], r["status"], r["attempts"], r["error"] or r.get("note")][
                0 if named else 1 :
            ]
            for r in report
        ]
        emit("\n".join(table(heads, rows)))
    failed = [r["receiver"] for r in report if r["status"] != "sent"]
    if failed:
        _say(f"not delivered to: {', '.join(failed)}")
        return EXIT_NOT_DELIVERED
    return EXIT_UNAVAILABLE if problems else EXIT_OK


def channels_test(
    *,
    only: str | None,
    output: str,
    timeout: float,
    env: Mapping[str, str] | None = None,
    receiver: str | None = None,
) -> int:
    """Send one test notification through each configured channel (or `only`); report each."""
    from handler import logs  # noqa: PLC0415 - structlog only when a command logs
    from handler.channels.config import channel_secrets  # noqa: PLC0415
    from handler.channels.context import DeliveryContext  # noqa: PLC0415
    from handler.channels.delivery import deliver  # noqa: PLC0415

    env = os.environ if env is None else env
    chosen = _chosen_channels(only, env, receiver)
    if isinstance(chosen, int):
        return chosen
    settings, channels, problems = chosen
    credentials = resolve_credentials(None, env)
    secrets = (*channel_secrets(channels), *(credentials.secrets() if credentials else ()))
    logs.configure("stderr", settings.log_level)
    logs.set_secrets(secrets)
    record = sample_record(time.time(), settings.region)
    context = DeliveryContext(
        deadline=time.monotonic() + timeout,
        locale=settings.locale,
        credentials=credentials,
        project_id=resolve_project_id(None, None, env) or "",
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_attempts=settings.max_attempts,
        retry_base=settings.retry_base,
    )
    deliveries = deliver([(record, channel) for channel in channels], context, logs.logger())
    keys = ("receiver", "channel", "status", "attempts", "error")
    report: list[dict[str, Any]] = logs.scrub(
        [
            {
                **{key: d.get(key) for key in keys},
                **({"note": d["note"]} if d.get("note") else {}),
            }
            for d in deliveries
        ],
        secrets,
    )
    return _report_test(record, report, problems, output)


# -- alerts list ------------------------------------------------------------------------------------


def _member(record: Mapping[str, Any]) -> str:
    role = "standby" if record.get("kind") == "standby_failed" else "master"
    block = record.get(role)
    if isinstance(block, Mapping):
        return str(block.get("name") or block.get("address") or block.get("id") or "")
    check = record.get("check")
    return str(check.get("member_id") or "") if isinstance(check, Mapping) else ""


def _muted(state: Any, channels: Sequence[str], muting: Any) -> dict[str, Any]:
    """Whether a time interval holds the alert now (`muted_by`, `muted_until`), or held it until it resolved.

    `never_notified`: it resolved while every receiver's notification of it was muted or silenced, so
    none is sent.
    """
    from handler.domain import Notification  # noqa: PLC0415
    from handler.pipeline import HELD_BACK  # noqa: PLC0415
    from handler.windows import iso as window_iso  # noqa: PLC0415

    holds = []
    if muting is not None and state.state != "resolved":
        notification = Notification.of(state.record)
        holds = [hold for name in channels if (hold := muting(notification, name)) is not None]
    entries = state.deliveries.values()
    never = state.state == "resolved" and bool(entries) and all(e.status in HELD_BACK for e in entries)
    return {
        "muted_by": holds[0].window if holds else None,
        "muted_until": window_iso(holds[0].until) if holds and holds[0].until is not None else None,
        "never_notified": never,
    }


def _alert_row(
    state: Any,
    silences: list[Silence],
    channels: list[str],
    now: float,
    settings: Any,
    *,
    muting: Any = None,
    acks: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One alert as `alerts list` shows it (`acknowledged`: who, when, why, while the ack holds)."""
    from handler.lifecycle import pending_channels  # noqa: PLC0415

    record = state.record
    raw_pool = record.get("pool")
    pool: Mapping[str, Any] = raw_pool if isinstance(raw_pool, Mapping) else {}
    holder = silencing(silences, record, now)
    return {
        "fingerprint": state.fingerprint,
        "state": state.state,
        "kind": record.get("kind"),
        "severity": record.get("severity"),
        "pool": {"id": pool.get("id"), "name": pool.get("name")},
        "member": _member(record),
        "since": iso(state.first_seen),
        "last_notified": iso(state.last_notified) if state.last_notified is not None else None,
        "receivers": list(channels),
        "pending_channels": list(pending_channels(state, channels, now, settings)),
        "silenced_by": holder.id if holder else None,
        "silenced_until": iso(holder.ends_at) if holder else None,
        **_muted(state, channels, muting),
        "title": record.get("title"),
        "acknowledged": ack.block() if (ack := (acks or {}).get(state.fingerprint)) is not None else None,
    }


def _read_alerts(env: Mapping[str, str]) -> tuple[Any, list[Silence], dict[str, Any]] | int:
    """The stored states, silences and the acknowledgements that still hold; an exit status on failure."""
    from handler.acks import holding  # noqa: PLC0415

    store = _open(env)
    if store is None:
        return EXIT_UNAVAILABLE
    try:
        loaded = store.all_states()
        silences = store.silences()
        acks = holding(store.acks(), loaded.states)
    except (StoreUnavailable, ConfigError) as exc:
        _say(exc.message if isinstance(exc, StoreUnavailable) else str(exc))
        return EXIT_UNAVAILABLE
    finally:
        store.close()
    for warning in loaded.warnings:
        _say(warning)
    return loaded, silences, acks


def alerts(
    *,
    output: str,
    include_resolved: bool,
    severities: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    now: float | None = None,
    match: Sequence[str] | None = None,
    receivers: Sequence[str] | None = None,
) -> int:
    """What the store holds: one row per alert (firing and pending; resolved ones with --all).

    Most severe first, then oldest first; `severities` (`--severity`), `match` (`--match`, matchers over
    the alert's record) and `receivers` (`--receiver`: routed to, or in the ledger of) narrow it.
    """
    from handler import alerts_view  # noqa: PLC0415
    from handler.config import read_lifecycle_settings  # noqa: PLC0415
    from handler.lifecycle import receivers_of  # noqa: PLC0415
    from handler.receivers import audience  # noqa: PLC0415
    from handler.routes_cli import read_receivers  # noqa: PLC0415
    from handler.routing import window_muting  # noqa: PLC0415

    env = os.environ if env is None else env
    matchers = _parsed(match)
    if isinstance(matchers, int):
        return matchers
    settings, fallbacks = read_lifecycle_settings(env)
    for fallback in fallbacks:
        _say(fallback)
    read = _read_alerts(env)
    if isinstance(read, int):
        return read
    loaded, silences, acks = read
    configured = read_receivers(env)
    to = audience(configured)
    now = time.time() if now is None else now
    muting = window_muting(configured.routes, now)
    shown = alerts_view.AlertFilter(
        severities=frozenset(severities or ()),
        include_resolved=include_resolved,
        matchers=matchers,
        receivers=frozenset(receivers or ()),
    )
    rows = []
    for state in loaded.states.values():
        row = _alert_row(
            state, silences, list(receivers_of(state, to)), now, settings, muting=muting, acks=acks
        )
        if shown.wanted(row, state.record, state.deliveries):
            rows.append(row)
    rows.sort(key=alerts_view.sort_key)
    if output == "json":
        emit(dumps(rows))
    else:
        emit(alerts_view.render(rows, now) if rows else _none_shown(shown))
    return EXIT_OK


def _none_shown(shown: Any) -> str:
    """What `alerts list` says when no row is left."""
    if shown.matchers or shown.receivers:
        return (
            "No alert matches "
            + ", ".join(
                [*map(str, shown.matchers), *(f"receiver={name}" for name in sorted(shown.receivers))]
            )
            + (" in the store." if shown.include_resolved else " among the firing ones.")
        )
    if shown.severities:
        return f"No {' or '.join(sorted(shown.severities))} alert" + (
            " in the store." if shown.include_resolved else " is firing."
        )
    return "No alert is firing." if not shown.include_resolved else "The store holds no alert."


# -- alerts history -------------------------------------------------------------------------------


def alerts_history(
    *,
    output: str,
    since: str = "7d",
    match: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    now: float | None = None,
) -> int:
    """The episodes the store keeps (`handler.history`) over the last `since`, and per pool their sums.

    `match` (`--match KEY=VALUE`, repeatable, ANDed): route match keys, VALUE a shell glob.
    """
    from handler import report  # noqa: PLC0415

    try:
        seconds = report.parse_since(since)
        matchers = report.parse_matchers(match)
    except ValueError as exc:
        _say(str(exc))
        return EXIT_USAGE
    store = _open(os.environ if env is None else env)
    if store is None:
        return EXIT_UNAVAILABLE
    try:
        kept = store.episodes()
    except StoreUnavailable as exc:
        _say(exc.message)
        return EXIT_UNAVAILABLE
    finally:
        store.close()
    now = time.time() if now is None else now
    found = report.summary(report.matching(report.within(kept, now - seconds), matchers))
    if output == "json":
        emit(dumps(found))
    else:
        emit(report.render(found, since=now - seconds, now=now))
    return EXIT_OK


# -- silences ---------------------------------------------------------------------------------------


def _parsed(match: Sequence[str] | None) -> tuple[Matcher, ...] | int:
    """The `--match` matchers, or EXIT_BAD_MATCHER after naming the bad one."""
    try:
        return parse_matchers(match or ())
    except MatcherError as exc:
        _say(str(exc))
        return EXIT_BAD_MATCHER


def default_name() -> str:
    """Who acknowledges or silences when `--by` is not given: the OS user, else "cli"."""
    import getpass  # noqa: PLC0415

    try:
        return getpass.getuser() or "cli"
    except (OSError, KeyError, ImportError):
        return "cli"


def _creator(by: str | None) -> str:
    return (by or "").strip() or default_name()


def silence_add(
    *,
    pool: str | None,
    fingerprint: str | None,
    duration: str,
    comment: str,
    output: str,
    quiet: bool = False,
    env: Mapping[str, str] | None = None,
    match: Sequence[str] | None = None,
    by: str | None = None,
) -> int:
    """Keep a new silence in the store and print its id (`quiet`: only the id)."""
    env = os.environ if env is None else env
    matchers = _parsed(match)
    if isinstance(matchers, int):
        return matchers
    seconds = parse_duration(duration)
    try:
        silence = new_silence(
            {"pool": pool or "", "fingerprint": fingerprint or ""},
            now=time.time(),
            duration=seconds if seconds is not None else float("nan"),
            comment=comment,
            matchers=matchers,
            created_by=_creator(by),
        )
    except ValueError as exc:
        _say(str(exc))
        return EXIT_USAGE
    return _keep(silence, output, f"silenced {silence.describe()}", quiet=quiet, env=env)


def _keep(silence: Silence, output: str, said: str, *, quiet: bool, env: Mapping[str, str]) -> int:
    """Write a silence (new, or updated under its id) and print its id, or its JSON form."""
    store = _open(env)
    if store is None:
        return EXIT_UNAVAILABLE
    try:
        store.add_silence(silence)
    except StoreUnavailable as exc:
        _say(exc.message)
        return EXIT_UNAVAILABLE
    finally:
        store.close()
    if output == "json":
        emit(dumps(silence.public(time.time())))
    else:
        emit(silence.id)
        if not quiet:
            _say(f"{said} until {iso(silence.ends_at)}")
    return EXIT_OK


def parse_until(text: str, now: float) -> float | None:
    """`--until`: an ISO 8601 time ("2026-12-07T02:00:00Z"; no zone: UTC) as epoch seconds, else None."""
    from datetime import datetime, timezone  # noqa: PLC0415

    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    value = moment.timestamp()
    return value if value > now else None


def _new_end(duration: str | None, until: str | None, now: float, kept: Silence) -> float | str:
    """The updated silence's end, or what is wrong with --for / --until."""
    if duration is None and until is None:
        return kept.ends_at
    if duration is not None:
        seconds = parse_duration(duration)
        end = now + seconds if seconds is not None and seconds > 0 else None
    else:
        end = parse_until(until or "", now)
    if end is None or end - now > MAX_SILENCE_SECONDS:
        what = f"--for {duration}" if duration is not None else f"--until {until}"
        return (
            f"{what}: give a duration from 1s to 90 days (30m, 2h, 1d, 1w, 1d12h) or a future ISO 8601 "
            "time within 90 days (2026-12-07T02:00:00Z)"
        )
    return end


def silence_update(
    silence_id: str,
    *,
    duration: str | None,
    until: str | None,
    comment: str | None,
    output: str,
    quiet: bool = False,
    env: Mapping[str, str] | None = None,
) -> int:
    """Extend, shorten or re-comment an active silence; `--for` counts from now.

    An unknown id, or a silence that has ended, is exit 1: add a new one instead.
    """
    from dataclasses import replace  # noqa: PLC0415

    env = os.environ if env is None else env
    if duration is None and until is None and comment is None:
        _say("nothing to update: give --for DURATION, --until TIME or --comment TEXT")
        return EXIT_USAGE
    kept = _find_silence(silence_id, env)
    if isinstance(kept, int):
        return kept
    now = time.time()
    if kept.ends_at <= now:
        _say(
            f"silence {silence_id} ended at {iso(kept.ends_at)}: nothing to update (`silence add` a new one)"
        )
        return EXIT_UNAVAILABLE
    end = _new_end(duration, until, now, kept)
    if isinstance(end, str):
        _say(end)
        return EXIT_USAGE
    if comment is not None and len(comment) > 500:
        _say("--comment is longer than 500 characters")
        return EXIT_USAGE
    updated = replace(kept, ends_at=end, comment=kept.comment if comment is None else comment)
    return _keep(
        updated, output, f"silence {silence_id} ({updated.describe()}) now lasts", quiet=quiet, env=env
    )


def _find_silence(silence_id: str, env: Mapping[str, str]) -> Silence | int:
    """The stored silence with this id, or an exit status after saying why there is none."""
    store = _open(env)
    if store is None:
        return EXIT_UNAVAILABLE
    try:
        kept = next((silence for silence in store.silences() if silence.id == silence_id), None)
    except StoreUnavailable as exc:
        _say(exc.message)
        return EXIT_UNAVAILABLE
    finally:
        store.close()
    if kept is None:
        _say(f"no silence {silence_id!r} in the store (`silence list --all` shows them)")
        return EXIT_UNAVAILABLE
    return kept


def silence_list(
    *,
    output: str,
    include_ended: bool,
    env: Mapping[str, str] | None = None,
    match: Sequence[str] | None = None,
) -> int:
    """The silences in the store: active ones (ended ones too with --all); `match`: those that name it."""
    env = os.environ if env is None else env
    wanted = _parsed(match)
    if isinstance(wanted, int):
        return wanted
    store = _open(env)
    if store is None:
        return EXIT_UNAVAILABLE
    try:
        kept: list[Silence] = store.silences()
    except StoreUnavailable as exc:
        _say(exc.message)
        return EXIT_UNAVAILABLE
    finally:
        store.close()
    now = time.time()
    shown = [s for s in kept if (include_ended or s.ends_at > now) and (not wanted or s.mentions(wanted))]
    if output == "json":
        emit(dumps([silence.public(now) for silence in shown]))
        return EXIT_OK
    if not shown:
        emit(
            "No active silence."
            if not wanted
            else "No active silence names " + ", ".join(map(str, wanted)) + "."
        )
        return EXIT_OK
    rows = [
        (
            s.id,
            s.describe(),
            iso(s.starts_at),
            "until resolved" if s.until_resolved and s.ends_at > now else iso(s.ends_at),
            "active" if s.active(now) else "ended",
            s.created_by or "-",
            s.comment,
        )
        for s in shown
    ]
    heads = ("id", "matcher", "starts at", "ends at", "state", "by", "comment")
    emit("\n".join(table(heads, rows, indent="")))
    return EXIT_OK


def silence_expire(silence_id: str, *, quiet: bool = False, env: Mapping[str, str] | None = None) -> int:
    """End a silence now; what it held is notified by the next run if still firing.

    An unknown id, or a silence that had already ended, is exit 1: nothing was expired.
    """
    env = os.environ if env is None else env
    store = _open(env)
    if store is None:
        return EXIT_UNAVAILABLE
    now = time.time()
    try:
        kept = next((silence for silence in store.silences() if silence.id == silence_id), None)
        found = kept is not None and kept.ends_at > now and store.expire_silence(silence_id, now)
    except StoreUnavailable as exc:
        _say(exc.message)
        return EXIT_UNAVAILABLE
    finally:
        store.close()
    if kept is None:
        _say(f"no silence {silence_id!r} in the store (`silence list --all` shows them)")
        return EXIT_UNAVAILABLE
    if not found:
        _say(f"silence {silence_id} had already ended at {iso(kept.ends_at)}: nothing to expire")
        return EXIT_UNAVAILABLE
    if not quiet:
        _say(f"silence {silence_id} expired; the next run notifies what it held, if still firing")
    return EXIT_OK
