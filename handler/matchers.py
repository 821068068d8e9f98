"""Matchers as amtool writes them: `pool_name=pay-*`, `severity!=info`, `pool_id=~a.*`, `kind!~std.*`. Pure.

The keys are the routing file's match keys (`handler.routes.MATCH_KEYS`, but `tag`) and the values
of a record come from the same extraction the routes use (`handler.routes.fields_of`), so a silence,
an acknowledgement or an `alerts list` filter reads a record exactly as a route does. `=` is an exact
value (a shell glob on `pool_name`, as in routes), `!=` its negation, `=~` a regular expression that
must match the whole value (anchored, like amtool), `!~` its negation. A key with several values (a
pool on two load balancers) matches `=`/`=~` when one of them does, `!=`/`!~` when none does.
Several matchers are ANDed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handler.routes import GLOB_KEYS, MATCH_KEYS, fields_of

MATCHER_KEYS = tuple(key for key in MATCH_KEYS if key != "tag")
OPERATORS = ("=~", "!~", "!=", "=")
MAX_PATTERN = 256
"""The longest value (and so regular expression) a matcher takes: a pattern is compiled on every run."""
MAX_MATCHERS = 16
_SHAPE = re.compile(r"([a-z_]{1,40})(=~|!~|!=|=)(.*)", re.DOTALL)


class MatcherError(ValueError):
    """A matcher that cannot be used; the message names it and says what is wrong."""


@dataclass(frozen=True, slots=True)
class Matcher:
    """One `key op value` test over a record's match fields."""

    key: str
    op: str
    value: str
    test: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        """As written: `pool_name=pay-*`."""
        return f"{self.key}{self.op}{self.value}"

    def accepts(self, offered: Sequence[str]) -> bool:
        """Whether values offered for the key pass this matcher."""
        if self.test is not None:
            hit = any(self.test.fullmatch(value) for value in offered)
        else:
            hit = self.value in offered
        return hit if self.op in {"=", "=~"} else not hit

    def to_dict(self) -> dict[str, str]:
        """The stored form."""
        return {"key": self.key, "op": self.op, "value": self.value}


def matcher(key: str, op: str, value: str) -> Matcher:
    """A checked, compiled matcher; MatcherError naming it when the key, operator or pattern is wrong."""
    written = f"{key}{op}{value}"
    if key not in MATCHER_KEYS:
        raise MatcherError(f"--match {written!r}: unknown key {key!r}; use one of {', '.join(MATCHER_KEYS)}")
    if op not in OPERATORS:
        raise MatcherError(f"--match {written!r}: the operator must be one of {', '.join(OPERATORS)}")
    if not value:
        raise MatcherError(f"--match {written!r}: the value is empty")
    if len(value) > MAX_PATTERN:
        raise MatcherError(f"--match {key}{op}…: the value is longer than {MAX_PATTERN} characters")
    if op in {"=~", "!~"}:
        try:
            test: re.Pattern[str] | None = re.compile(value)
        except (re.error, RecursionError, OverflowError) as exc:
            raise MatcherError(f"--match {written!r}: not a regular expression: {exc}") from None
        if _nested_repeat(value):
            raise MatcherError(
                f"--match {written!r}: a repeat inside a repeat (like (a+)+) can take exponential time "
                "on every run; write it without nesting, e.g. (ab)+ or a+"
            )
    elif key in GLOB_KEYS:
        test = re.compile(fnmatch.translate(value))
    else:
        test = None
    return Matcher(key, op, value, test)


def _regex_parser() -> Any:
    """The parser `re` itself uses (`re._parser` since Python 3.11, `sre_parse` before)."""
    import importlib  # noqa: PLC0415

    try:
        return importlib.import_module("re._parser")
    except ImportError:  # pragma: no cover - Python 3.10
        return importlib.import_module("sre_parse")


def _nested_repeat(pattern: str) -> bool:
    """Whether a regular expression repeats something that itself repeats without bound: (a+)+, (a*){2,}.

    That is the shape of catastrophic backtracking; a silence's pattern runs in every invocation.
    """
    parser = _regex_parser()
    repeats = {parser.MAX_REPEAT, parser.MIN_REPEAT, getattr(parser, "POSSESSIVE_REPEAT", parser.MAX_REPEAT)}

    def walk(items: Any, *, repeated: bool) -> bool:
        for op, av in items:
            if op in repeats:
                _, most, body = av
                if (repeated and most == parser.MAXREPEAT) or walk(body, repeated=repeated or most > 1):
                    return True
                continue
            if op is parser.SUBPATTERN:
                children = [av[-1]]
            elif op is parser.BRANCH:
                children = list(av[1])
            elif op in {parser.ASSERT, parser.ASSERT_NOT}:
                children = [av[1]]
            else:
                children = []
            if any(walk(child, repeated=repeated) for child in children):
                return True
        return False

    return walk(parser.parse(pattern), repeated=False)


def parse_matcher(text: str) -> Matcher:
    """`KEY=VALUE`, `KEY!=VALUE`, `KEY=~REGEX` or `KEY!~REGEX`; MatcherError naming it when it is not one."""
    found = _SHAPE.fullmatch(text.strip())
    if found is None:
        raise MatcherError(
            f"--match {text!r} is not KEY=VALUE, KEY!=VALUE, KEY=~REGEX or KEY!~REGEX "
            f"(keys: {', '.join(MATCHER_KEYS)})"
        )
    return matcher(*found.groups())


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    """Every `--match` given; MatcherError for the first bad one, or for too many."""
    parsed = tuple(parse_matcher(text) for text in texts)
    if len(parsed) > MAX_MATCHERS:
        raise MatcherError(f"at most {MAX_MATCHERS} --match are taken, got {len(parsed)}")
    return parsed


def from_stored(rows: Any) -> tuple[Matcher, ...]:
    """Matchers from their stored form; ValueError when it is not a list of valid ones."""
    if not isinstance(rows, list):
        raise TypeError("matchers is not a list")
    found = []
    for row in rows:
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("key", "op", "value")):
            raise ValueError("a matcher is not {key, op, value}")
        found.append(matcher(row["key"], row["op"], row["value"]))
    return tuple(found)


def match_all(matchers: Sequence[Matcher], record: Mapping[str, Any]) -> bool:
    """Whether a record passes every matcher (no matcher: True)."""
    if not matchers:
        return True
    fields = fields_of(record)
    return all(test.accepts(fields.get(test.key, ())) for test in matchers)


def mentions(matchers: Sequence[Matcher], wanted: Sequence[Matcher]) -> bool:
    """Whether `matchers` name, for each wanted one, a value it accepts (`silence list --match`)."""
    return all(any(own.key == want.key and want.accepts((own.value,)) for own in matchers) for want in wanted)
