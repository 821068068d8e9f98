"""What the environment wires into an invocation: channels, lifecycle settings, the state store, the clock.

The warm instance's caches (`WARM`: ELB clients, started diagnosis jobs, state stores) live here too:
the one object that outlives an invocation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from handler.channels.config import Channel
from handler.config import ConfigError, read_lifecycle_settings
from handler.instance import Instance
from handler.lifecycle import LifecycleSettings
from handler.receivers import Receivers
from handler.state import StateStore, open_store, url_secrets
from handler.state.url import INSTANCE, OFF, instance_store_url, sqlite_file
from handler.text import whole_number

GROUP_THRESHOLD_VARIABLE = "ELB_WATCH_GROUP_THRESHOLD"
DEFAULT_GROUP_THRESHOLD = 3


@dataclass(frozen=True, slots=True)
class Wiring:
    """What the environment configures beyond settings: channels, lifecycle, state store, clock."""

    receivers: Receivers = field(default_factory=Receivers)
    # Settings that could not be used, each a CONFIG.INVALID entry: a lifecycle or tuning value's (its
    # default is used). None of them stops the watch. A receiver's are in `receivers.problems`.
    setting_problems: tuple[str, ...] = ()
    group_threshold: int = DEFAULT_GROUP_THRESHOLD
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
    store: StateStore | None = None
    secrets: tuple[str, ...] = ()
    wall_clock: Callable[[], float] = time.time
    # What `deduplication` says when the store works: "on" (ELB_WATCH_STATE) or "instance" (the default).
    store_kind: str = "on"
    # ELB_WATCH_STATE could not be used: the run goes on with the instance store and reports this.
    store_error: str | None = None
    # --dry-run: the store is read, never written, and nothing is sent.
    dry_run: bool = False

    @property
    def channels(self) -> tuple[Channel, ...]:
        """Every receiver (a channel named after its type when there is no routing file)."""
        return self.receivers.channels

    @property
    def channel_problems(self) -> tuple[str, ...]:
        """One message per receiver whose settings are unusable (it is off; the others work)."""
        return self.receivers.problems


# The warm instance's caches (ELB clients, started diagnosis jobs, state stores): the one object
# that outlives an invocation.
WARM = Instance()


def _store(url: str) -> StateStore | None:
    """The state store for a URL, opened once per instance and kept across warm invocations."""
    return WARM.store(url, open_store)


def _dry_store(url: str) -> StateStore | None:
    """A dry run's store: as `_store`, but a SQLite file that does not exist yet is not created.

    There is nothing in it to read, so an empty store in memory stands for it (a dry run writes nothing).
    """
    path = sqlite_file(url)
    if path is not None and not os.path.exists(path):
        from handler.state.memory import MemoryStore  # noqa: PLC0415 - only for a dry run

        return MemoryStore()
    return _store(url)


def build_wiring(
    env: Mapping[str, str], wall_clock: Callable[[], float], locale: str, *, dry_run: bool = False
) -> Wiring:
    """Read channels, lifecycle settings and the state store; what cannot be used is in `setting_problems`."""
    from handler.channels.config import channel_secrets, usable_channels  # noqa: PLC0415 - light

    found, problems = usable_channels(env)
    receivers = with_routes(env, Receivers(tuple(found), tuple(problems)))
    channels = receivers.channels
    url = env.get("ELB_WATCH_STATE", "").strip()
    # Unset (or "instance"): an embedded SQLite file in the temp directory, for one warm instance.
    kind = "instance" if url.lower() in {"", INSTANCE} else "on"
    url = instance_store_url() if kind == "instance" else url
    store, store_error = None, None
    opened = _dry_store if dry_run else _store
    if url.lower() != OFF:
        try:
            store = opened(url)
        except ConfigError as exc:
            # A typo in the URL (or no redis package) must not mean an alert every minute: fall back
            # to the instance store and report the problem (a watcher_error).
            store_error, kind = str(exc), "instance"
            store = opened(instance_store_url())
    if dry_run and store is not None:
        from handler.state.dry import DryRunStore  # noqa: PLC0415 - only for a dry run

        store = DryRunStore(store)
    lifecycle, lifecycle_problems = read_lifecycle_settings(env)
    threshold = DEFAULT_GROUP_THRESHOLD
    try:
        threshold = group_threshold(env)
    except ConfigError as exc:
        lifecycle_problems.append(f"{exc}; using the default {DEFAULT_GROUP_THRESHOLD}")
    return Wiring(
        receivers=receivers,
        setting_problems=tuple(lifecycle_problems),
        group_threshold=threshold,
        lifecycle=replace(lifecycle, locale=locale),
        store=store,
        secrets=(*channel_secrets(channels), *url_secrets(url), *actions_secrets(env)),
        wall_clock=wall_clock,
        store_kind=kind,
        store_error=store_error,
        dry_run=dry_run,
    )


def with_routes(env: Mapping[str, str], found: Receivers) -> Receivers:
    """The environment's channels plus the routing file's receivers and routes (ELB_WATCH_ROUTES).

    A routing file with problems routes nothing: every receiver that is well formed gets every alert
    (none is lost to a typo), and each problem is a CONFIG.INVALID error naming its place in the file.
    """
    from handler import routing_file  # noqa: PLC0415 - only with a routing file
    from handler.routes import RoutesError  # noqa: PLC0415

    value = routing_file.configured(env)
    if not value:
        return found
    try:
        config = routing_file.load(value, env, found.channels)
    except RoutesError as exc:
        problems = [f"{exc.source}: {problem}" for problem in exc.problems]
        problems.append(f"{exc.source} is not used until this is fixed: every receiver gets every alert")
        return Receivers((*found.channels, *exc.receivers), (*found.problems, *problems))
    return Receivers((*found.channels, *config.receivers), found.problems, config)


def group_threshold(env: Mapping[str, str]) -> int:
    """ELB_WATCH_GROUP_THRESHOLD: above this many findings for one channel in one run, send digests."""
    raw = env.get(GROUP_THRESHOLD_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_GROUP_THRESHOLD
    if not whole_number(raw) or len(raw) > 5 or int(raw) > 10_000:
        raise ConfigError(f"{GROUP_THRESHOLD_VARIABLE}={raw[:20]!r} must be a whole number from 0 to 10000")
    return int(raw)


def actions_secrets(env: Mapping[str, str]) -> tuple[str, ...]:
    """The action links' signing key (ELB_WATCH_ACTIONS_KEY), scrubbed from every output like the others."""
    key = env.get("ELB_WATCH_ACTIONS_KEY", "").strip()
    return (key,) if len(key) >= 8 else ()
