"""The shared store: Redis or Huawei DCS, through redis-py (the optional `redis` extra)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from handler.acks import Ack, decode_acks, encode_ack
from handler.history import Episode, HistoryBounds, decode_episodes, encode_episode, merge
from handler.lifecycle import AlertState
from handler.silences import Silence, decode_silences, encode_silence
from handler.state.base import (
    DEFAULT_RETENTION,
    Leased,
    Loaded,
    Settle,
    StoreUnavailable,
    encode_state,
    loaded_from,
)
from handler.text import clip

DEFAULT_PREFIX = "elb-master-watch:"

# Compare-and-delete: only the owner's lease is removed, never one another invocation took after expiry.
RELEASE_SCRIPT = """
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("DEL", KEYS[1])
end
return 0
"""

# The history's bounds: drop episodes that began before ARGV[1], then the oldest beyond ARGV[2] kept.
TRIM_EPISODES_SCRIPT = """
local old = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", "(" .. ARGV[1])
for _, id in ipairs(old) do redis.call("HDEL", KEYS[1], id) end
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", "(" .. ARGV[1])
local over = redis.call("ZCARD", KEYS[2]) - tonumber(ARGV[2])
if over > 0 then
    for _, id in ipairs(redis.call("ZRANGE", KEYS[2], 0, over - 1)) do redis.call("HDEL", KEYS[1], id) end
    redis.call("ZREMRANGEBYRANK", KEYS[2], 0, over - 1)
end
return #old
"""

T = TypeVar("T")


def _glob_escape(text: str) -> str:
    """`text` with Redis glob characters escaped, for a SCAN MATCH pattern."""
    return "".join(f"\\{ch}" if ch in "*?[]\\" else ch for ch in text)


class RedisStore:
    """States as JSON in one hash per scope (field = fingerprint); a lease is `SET key owner NX PX ttl`.

    Short socket timeouts and no client-side retries: a store that does not answer within the
    timeout is unavailable for this run, and the lifecycle falls back to sending without
    de-duplication instead of eating the invocation's time budget.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int = 6379,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        ca_certs: str | None = None,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 1.0,
        retention: float = DEFAULT_RETENTION,
    ) -> None:
        """A client for one Redis database; nothing connects until the first call."""
        import redis  # noqa: PLC0415 - optional extra, loaded only when a Redis store is configured
        from redis.backoff import NoBackoff  # noqa: PLC0415
        from redis.retry import Retry  # noqa: PLC0415

        self.label = f"redis{'s' if tls else ''} {host}:{port}/{db}"
        self.prefix = prefix
        self.retention = retention
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._client: Any = redis.Redis(
            host=host,
            port=port,
            db=db,
            username=username,
            password=password,
            ssl=tls,
            ssl_ca_certs=ca_certs,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self._secrets = (password,) if password else ()
        self._timeout = timeout

    def __repr__(self) -> str:
        """Where the store is (never the password)."""
        return f"RedisStore({self.label!r}, prefix={self.prefix!r})"

    def limit_wait(self, seconds: float) -> None:
        """Cut the socket timeouts of connections made from now on to `seconds` (never above the URL's)."""
        cut = max(0.01, min(self._timeout, seconds))
        kwargs = self._client.connection_pool.connection_kwargs
        kwargs["socket_timeout"] = cut
        kwargs["socket_connect_timeout"] = cut

    def _state_key(self, scope: str) -> str:
        return f"{self.prefix}state:{scope}"

    def _lease_key(self, fingerprint: str) -> str:
        return f"{self.prefix}lease:{fingerprint}"

    def _run(self, what: str, work: Callable[[], T]) -> T:
        try:
            return work()
        except self._errors as exc:
            message = clip(f"{type(exc).__name__}: {exc}", 300, self._secrets)
            raise StoreUnavailable(f"{self.label}: {what} failed: {message}") from None

    def _loaded(self, scopes: list[str], hashes: list[Any]) -> Loaded:
        rows = (
            (bytes(raw_fp).decode("utf-8", "replace"), scope, bytes(body))
            for scope, fields in zip(scopes, hashes, strict=True)
            for raw_fp, body in fields.items()
        )
        return loaded_from(rows, self.label)

    def load(self, scopes: Iterable[str]) -> Loaded:
        """The states of these scopes (one HGETALL each, pipelined); bad fields become warnings."""
        wanted = sorted(set(scopes))

        def work() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for scope in wanted:
                pipe.hgetall(self._state_key(scope))
            return list(pipe.execute())

        return self._loaded(wanted, self._run("load", work))

    def save(self, states: Iterable[AlertState], *, release: Iterable[str] = (), owner: str = "") -> None:
        """HSET the states, push each scope's expiry out, compare-and-delete the leases: one round trip."""
        by_scope: dict[str, dict[str, str]] = {}
        for state in states:
            by_scope.setdefault(state.scope, {})[state.fingerprint] = encode_state(state)
        released = list(dict.fromkeys(release))
        if not by_scope and not released:
            return

        def work() -> None:
            pipe = self._client.pipeline(transaction=False)
            for scope, fields in by_scope.items():
                pipe.hset(self._state_key(scope), mapping=fields)
                pipe.expire(self._state_key(scope), int(self.retention))
            for fingerprint in released:
                # EVAL, not the registered script: a pipeline would first ask SCRIPT EXISTS (one more trip).
                pipe.eval(RELEASE_SCRIPT, 1, self._lease_key(fingerprint), owner)
            pipe.execute()

        self._run("save", work)

    settles = False

    def lease(
        self,
        fingerprints: Sequence[str],
        owner: str,
        ttl_ms: int,
        scopes: Iterable[str] = (),
        *,
        settle: Settle | None = None,
    ) -> Leased:
        """SET NX PX per fingerprint, then HGETALL per scope, in one pipelined round trip (in order).

        `settle` is not used: a pipelined round trip cannot run the decision between its read and
        its write, so a quiet run leases and saves as every run does (`settles` is False).
        """
        wanted = list(dict.fromkeys(fingerprints))
        read = sorted(set(scopes))
        if not wanted and not read:
            return Leased()

        def work() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for fingerprint in wanted:
                pipe.set(self._lease_key(fingerprint), owner, nx=True, px=ttl_ms)
            for scope in read:
                pipe.hgetall(self._state_key(scope))
            return list(pipe.execute())

        answers = self._run("lease", work)
        taken = tuple(fp for fp, answer in zip(wanted, answers[: len(wanted)], strict=True) if answer)
        return Leased(taken, self._loaded(read, answers[len(wanted) :]))

    def remember(self, key: str, value: str, ttl: float) -> None:
        """SET with an expiry: keep `value` under `key` for `ttl` seconds."""
        self._run(
            "remember",
            lambda: self._client.set(f"{self.prefix}memo:{key}", value, px=max(1, int(ttl * 1000))),
        )

    def recall(self, key: str) -> str | None:
        """GET: the value kept under `key`, unless it expired."""
        raw = self._run("recall", lambda: self._client.get(f"{self.prefix}memo:{key}"))
        if raw is None:
            return None
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)

    def claim(self, key: str, value: str, ttl: float) -> str | None:
        """SET NX with an expiry; when it is taken, GET who took it."""
        name = f"{self.prefix}claim:{key}"

        def work() -> Any:
            pipe = self._client.pipeline(transaction=True)
            pipe.set(name, value, nx=True, px=max(1, int(ttl * 1000)))
            pipe.get(name)
            return pipe.execute()

        kept, raw = self._run("claim", work)
        if kept:
            return None
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")

    def count(self, key: str, ttl: float) -> int:
        """INCR, and the expiry set by the first count only (SET NX then INCR, in one MULTI)."""
        name = f"{self.prefix}count:{key}"

        def work() -> Any:
            pipe = self._client.pipeline(transaction=True)
            pipe.set(name, 0, nx=True, px=max(1, int(ttl * 1000)))
            pipe.incr(name)
            return pipe.execute()

        return int(self._run("count", work)[1])

    def all_states(self) -> Loaded:
        """Every stored state: SCAN the state hashes of this prefix, then HGETALL each (pipelined)."""
        marker = self._state_key("")

        def work() -> list[tuple[str, Any]]:
            keys = sorted(
                bytes(key).decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
                for key in self._client.scan_iter(match=f"{_glob_escape(marker)}*", count=500)
            )
            pipe = self._client.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(key)
            return list(zip(keys, pipe.execute(), strict=True))

        rows = (
            (bytes(raw_fp).decode("utf-8", "replace"), key[len(marker) :], bytes(body))
            for key, fields in self._run("list", work)
            for raw_fp, body in fields.items()
        )
        return loaded_from(rows, self.label)

    def add_silence(self, silence: Silence) -> None:
        """Drop silences that ended `retention` seconds ago, then HSET this one into the silences hash."""
        key = f"{self.prefix}silences"
        cutoff = time.time() - self.retention
        stale = [old.id for old in self.silences() if old.ends_at < cutoff and old.id != silence.id]

        def work() -> None:
            pipe = self._client.pipeline(transaction=False)
            pipe.hset(key, silence.id, encode_silence(silence))
            if stale:
                pipe.hdel(key, *stale)
            pipe.execute()

        self._run("add silence", work)

    def silences(self) -> list[Silence]:
        """HVALS of the silences hash, the readable ones."""
        rows = self._run("list silences", lambda: self._client.hvals(f"{self.prefix}silences"))
        return decode_silences(bytes(row) if isinstance(row, bytes) else str(row) for row in rows)

    def expire_silence(self, silence_id: str, now: float) -> bool:
        """Set the silence's end to `now` unless it ended earlier (read, then write the field)."""
        key = f"{self.prefix}silences"
        raw = self._run("expire silence", lambda: self._client.hget(key, silence_id))
        found = decode_silences([raw]) if raw is not None else []
        if not found:
            return False
        if found[0].ends_at > now:
            ended = encode_silence(replace(found[0], ends_at=now))
            self._run("expire silence", lambda: self._client.hset(key, silence_id, ended))
        return True

    def acknowledge(self, ack: Ack) -> None:
        """Drop acknowledgements older than `retention`, then HSET this one into the acks hash."""
        key = f"{self.prefix}acks"
        cutoff = time.time() - self.retention
        stale = [
            old.fingerprint for old in self.acks() if old.at < cutoff and old.fingerprint != ack.fingerprint
        ]

        def work() -> None:
            pipe = self._client.pipeline(transaction=False)
            pipe.hset(key, ack.fingerprint, encode_ack(ack))
            if stale:
                pipe.hdel(key, *stale)
            pipe.execute()

        self._run("acknowledge", work)

    def acks(self) -> list[Ack]:
        """HVALS of the acks hash, the readable ones."""
        rows = self._run("list acknowledgements", lambda: self._client.hvals(f"{self.prefix}acks"))
        return decode_acks(bytes(row) if isinstance(row, bytes) else str(row) for row in rows)

    def unacknowledge(self, fingerprints: Iterable[str]) -> list[str]:
        """HDEL these fingerprints from the acks hash; the ones there were."""
        wanted = list(dict.fromkeys(fingerprints))
        if not wanted:
            return []

        def work() -> list[str]:
            pipe = self._client.pipeline(transaction=False)
            for fingerprint in wanted:
                pipe.hdel(f"{self.prefix}acks", fingerprint)
            return [fp for fp, gone in zip(wanted, pipe.execute(), strict=True) if gone]

        return self._run("unacknowledge", work)

    def record_episodes(self, episodes: Iterable[Episode], *, now: float, bounds: HistoryBounds) -> None:
        """HMGET the kept episodes, merge, then HSET + ZADD (by first seen) + trim in one round trip.

        Episodes are written after the run's states, by the run that held their leases; a run that took
        a lease meanwhile merges its own view in the same way, at worst one view of one run is lost.
        """
        seen = {episode.id: episode for episode in episodes}
        if not seen:
            return
        body, began = f"{self.prefix}episodes", f"{self.prefix}episodes:began"
        ids = list(seen)
        raw = self._run("read episodes", lambda: self._client.hmget(body, ids))
        kept = {e.id: e for e in decode_episodes(bytes(row) for row in raw if row is not None)}
        rows = {key: encode_episode(merge(kept.get(key), e)) for key, e in seen.items()}

        def work() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.hset(body, mapping=rows)
            pipe.zadd(began, {key: e.first_seen for key, e in seen.items()})
            pipe.eval(TRIM_EPISODES_SCRIPT, 2, body, began, repr(now - bounds.seconds), bounds.count)
            pipe.execute()

        self._run("record episodes", work)

    def episodes(self) -> list[Episode]:
        """HVALS of the episodes hash, the readable ones, oldest first."""
        rows = self._run("list episodes", lambda: self._client.hvals(f"{self.prefix}episodes"))
        return decode_episodes(bytes(row) if isinstance(row, bytes) else str(row) for row in rows)

    def close(self) -> None:
        """Close the connection pool."""
        self._run("close", self._client.close)
