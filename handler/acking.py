"""`alerts ack` and `alerts unack`, and `acknowledge`, the store command they (and the action links) use.

An acknowledgement stops the repeats of one firing alert until it changes or resolves (`handler.acks`).
`alerts ack FINGERPRINT` or `alerts ack --match KEY=VALUE ...` (every firing alert that matches);
exit 0 done, 1 no such firing alert (or acknowledgement, for unack) or the store is unavailable,
2 a bad --match, 64 usage error.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from handler.acks import Ack, new_ack
from handler.commands import EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, _open, _say, default_name
from handler.lifecycle import AlertState
from handler.matchers import Matcher, MatcherError, match_all, parse_matchers
from handler.silences import MAX_COMMENT
from handler.state.base import StateStore, StoreUnavailable
from handler.textview import dumps, emit

EXIT_BAD_MATCHER = 2


def acknowledge(store: StateStore, fingerprint: str, *, by: str, comment: str = "", now: float) -> Ack:
    """Acknowledge one firing alert in `store` and return the acknowledgement kept.

    LookupError when the store holds no alert with this fingerprint, ValueError when it is not firing
    (or the comment is too long); StoreUnavailable from the store passes through.
    """
    state = store.all_states().states.get(fingerprint)
    if state is None:
        raise LookupError(f"no alert {fingerprint!r} in the store (`alerts list` shows them)")
    ack = new_ack(state, by=by, comment=comment, now=now)
    store.acknowledge(ack)
    return ack


def _matchers(texts: Sequence[str] | None) -> tuple[Matcher, ...] | int:
    try:
        return parse_matchers(texts or ())
    except MatcherError as exc:
        _say(str(exc))
        return EXIT_BAD_MATCHER


def _targets(
    states: Mapping[str, AlertState], fingerprint: str | None, matchers: tuple[Matcher, ...]
) -> list[AlertState]:
    """The alerts a command names: the one fingerprint, or every firing alert the matchers match."""
    if fingerprint is not None:
        found = states.get(fingerprint)
        return [found] if found is not None else []
    return [s for _, s in sorted(states.items()) if s.state == "firing" and match_all(matchers, s.record)]


def alerts_ack(
    *,
    fingerprint: str | None,
    match: Sequence[str] | None,
    comment: str,
    by: str | None,
    output: str,
    quiet: bool = False,
    env: Mapping[str, str] | None = None,
) -> int:
    """Acknowledge one alert (FINGERPRINT) or every firing alert the --match matchers match."""
    env = os.environ if env is None else env
    matchers = _matchers(match)
    if isinstance(matchers, int):
        return matchers
    if (fingerprint is None) == (not matchers):
        _say("name the alert: alerts ack FINGERPRINT, or alerts ack --match KEY=VALUE (not both)")
        return EXIT_USAGE
    if len(comment) > MAX_COMMENT:
        _say(f"--comment is longer than {MAX_COMMENT} characters")
        return EXIT_USAGE
    store = _open(env)
    if store is None:
        return EXIT_UNAVAILABLE
    now, name = time.time(), (by or "").strip() or default_name()
    done: list[Ack] = []
    try:
        targets = _targets(store.all_states().states, fingerprint, matchers)
        for state in targets:
            ack = new_ack(state, by=name, comment=comment, now=now)
            store.acknowledge(ack)
            done.append(ack)
    except ValueError as exc:  # the alert is not firing
        _say(str(exc))
        return EXIT_UNAVAILABLE
    except StoreUnavailable as exc:
        _say(exc.message)
        return EXIT_UNAVAILABLE
    finally:
        store.close()
    return _report(done, fingerprint, matchers, output, quiet=quiet)


def _report(
    done: list[Ack], fingerprint: str | None, matchers: tuple[Matcher, ...], output: str, *, quiet: bool
) -> int:
    if not done:
        what = repr(fingerprint) if fingerprint else f"matching {', '.join(map(str, matchers))}"
        _say(f"no firing alert {what} in the store (`alerts list` shows them): nothing acknowledged")
        return EXIT_UNAVAILABLE
    if output == "json":
        emit(dumps([{"fingerprint": ack.fingerprint, "acknowledged": ack.block()} for ack in done]))
    else:
        emit("\n".join(ack.fingerprint for ack in done))
    if not quiet:
        _say(f"acknowledged {len(done)} alert(s) as {done[0].by}: no repeat until one changes or resolves")
    return EXIT_OK


def alerts_unack(
    *,
    fingerprint: str | None,
    match: Sequence[str] | None,
    output: str,
    quiet: bool = False,
    env: Mapping[str, str] | None = None,
) -> int:
    """Drop the acknowledgement of one alert, or of every alert the --match matchers match."""
    env = os.environ if env is None else env
    matchers = _matchers(match)
    if isinstance(matchers, int):
        return matchers
    if (fingerprint is None) == (not matchers):
        _say("name the alert: alerts unack FINGERPRINT, or alerts unack --match KEY=VALUE (not both)")
        return EXIT_USAGE
    store = _open(env)
    if store is None:
        return EXIT_UNAVAILABLE
    try:
        states = store.all_states().states
        acked = {ack.fingerprint for ack in store.acks()}
        wanted = (
            [fingerprint]
            if fingerprint is not None
            else [s.fingerprint for s in _targets(states, None, matchers)]
        )
        gone = store.unacknowledge([fp for fp in wanted if fp in acked])
    except StoreUnavailable as exc:
        _say(exc.message)
        return EXIT_UNAVAILABLE
    finally:
        store.close()
    if not gone:
        _say("no acknowledgement to drop (`alerts list` shows who acknowledged what)")
        return EXIT_UNAVAILABLE
    shown: Any = [{"fingerprint": fp, "acknowledged": None} for fp in gone]
    emit(dumps(shown) if output == "json" else "\n".join(gone))
    if not quiet:
        _say(f"dropped {len(gone)} acknowledgement(s): their repeats resume")
    return EXIT_OK
