"""Stage read, tags: the tags of the load balancers whose pools have findings, for routes on `tag`.

Read only when some route matches on `tag` (`Receivers.wants_tags`), only for the load balancers of
pools with a finding (not every pool a sweep listed), once per load balancer per run, and kept by the
warm instance for TAG_TTL_SECONDS (handler.tag_cache), per region and project. ListLoadBalancers by
id, TAG_CHUNK ids a call, at most MAX_TAG_CALLS_PER_EVENT calls per event. A read that fails is one
ELB.TAGS_UNAVAILABLE entry (`severity: warning`) per scope and one log line: the findings still go
out, and the load balancers left unread are absent from the tags, so routes on `tag` do not match
their pools.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from handler.domain import ElbApiError
from handler.elb import TAG_CHUNK, TagPage
from handler.result import error_entry

if TYPE_CHECKING:
    from handler.tag_cache import Scope, TagCache

TAGS_UNAVAILABLE = "ELB.TAGS_UNAVAILABLE"
# ListLoadBalancers calls one event may make for tags (50 ids each: 1,000 load balancers not cached).
MAX_TAG_CALLS_PER_EVENT = 20
# Unread load balancer ids listed in the error entry's target (the log line has the count).
_LISTED_IDS = 20

Tags = Mapping[str, Mapping[str, str]]
"""Tags by load balancer id: {} for a load balancer without tags; absent when they are unknown."""


class TagReader(Protocol):
    """What reading tags needs from ELB (handler.elb.ElbGateway)."""

    def list_loadbalancer_tags_page(
        self, loadbalancer_ids: Sequence[str], marker: str | None = None
    ) -> TagPage:
        """ListLoadBalancers by id, one page."""
        ...


@dataclass(frozen=True, slots=True)
class ScopeTags:
    """What reading one region/project's tags produced: the tags, the calls, what was left unread and why."""

    tags: dict[str, Mapping[str, str]] = field(default_factory=dict)
    calls: int = 0
    unread: tuple[str, ...] = ()
    error: ElbApiError | None = None


def read_scope(reader: TagReader, loadbalancer_ids: Sequence[str], max_calls: int) -> ScopeTags:
    """Read the tags of these load balancers, TAG_CHUNK a call; stop at the first failure.

    A load balancer ELB does not list (deleted since the pools were read) has no tags: {}.
    """
    pending = list(dict.fromkeys(loadbalancer_ids))
    found: dict[str, Mapping[str, str]] = {}
    calls = 0
    for start in range(0, len(pending), TAG_CHUNK):
        chunk = pending[start : start + TAG_CHUNK]
        marker: str | None = None
        followed: set[str] = set()
        while True:
            if calls >= max_calls:
                return ScopeTags(found, calls, _unread(pending, found), _used_up(max_calls))
            calls += 1
            try:
                page = reader.list_loadbalancer_tags_page(chunk, marker)
            except ElbApiError as error:
                return ScopeTags(found, calls, _unread(pending, found), error)
            found.update(page.tags)
            marker = page.next_marker
            # A repeated marker would only read the same page again (handler.watch's guard).
            if marker is None or marker in followed or all(lb_id in found for lb_id in chunk):
                break
            followed.add(marker)
        for lb_id in chunk:
            found.setdefault(lb_id, {})
    return ScopeTags(found, calls)


def _unread(pending: Sequence[str], found: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(lb_id for lb_id in pending if lb_id not in found)


def _used_up(max_calls: int) -> ElbApiError:
    message = f"this event's {max_calls} ListLoadBalancers calls for tags are used up"
    return ElbApiError("WATCH.LIST_LIMIT", message)


def read_tags(
    wanted: Mapping[Scope, Sequence[str]], readers: Mapping[Scope, TagReader], cache: TagCache
) -> tuple[dict[str, Mapping[str, str]], list[tuple[str, dict[str, Any]]]]:
    """The tags of the load balancers `wanted` per scope (cached ones not read again), and the errors.

    Each error is (log event, result entry): one ELB.TAGS_UNAVAILABLE per scope whose read failed.
    """
    tags: dict[str, Mapping[str, str]] = {}
    errors: list[tuple[str, dict[str, Any]]] = []
    calls_left = MAX_TAG_CALLS_PER_EVENT
    for scope, ids in wanted.items():
        known = cache.known(scope, ids)
        tags.update(known)
        missing = [lb_id for lb_id in dict.fromkeys(ids) if lb_id not in known]
        reader = readers.get(scope)
        if not missing or reader is None:
            continue
        outcome = read_scope(reader, missing, calls_left)
        calls_left -= outcome.calls
        cache.keep(scope, outcome.tags)
        tags.update(outcome.tags)
        if outcome.error is not None:
            errors.append(("tags.unavailable", unavailable(scope, outcome.unread, outcome.error)))
    return tags, errors


def unavailable(scope: Scope, unread: Sequence[str], cause: ElbApiError) -> dict[str, Any]:
    """The ELB.TAGS_UNAVAILABLE entry: which load balancers, why (the cause's code, status, request id)."""
    region, project_id = scope
    message = (
        f"tags of {len(unread)} load balancer(s) unread ({cause.code}: {cause.message}); routes on `tag` "
        "do not match their pools, whose alerts go by the other routes"
    )
    target = {"region": region, "project_id": project_id, "loadbalancer_ids": list(unread[:_LISTED_IDS])}
    entry = error_entry(
        TAGS_UNAVAILABLE,
        message,
        target=target,
        status=cause.status,
        request_id=cause.request_id,
        attempts=cause.attempts,
    )
    entry["severity"] = "warning"
    return entry


def pool_tags(tags: Tags, loadbalancer_ids: Sequence[str]) -> Mapping[str, str] | None:
    """A pool's tags: those of its load balancers merged, or None when any of theirs is unknown."""
    merged: dict[str, str] = {}
    for lb_id in loadbalancer_ids:
        found = tags.get(lb_id)
        if found is None:
            return None
        merged.update(found)
    return merged
