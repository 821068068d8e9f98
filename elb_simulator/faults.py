"""Injected faults: errors, delays, broken bodies and dropped connections for chosen requests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

FAULT_FIELDS = ("method", "path", "status", "times", "delay", "body", "headers", "malformed", "reset")


@dataclass
class Fault:
    """One fault rule; the first matching rule with `times` left is consumed by a request.

    `path` is a substring of, or a regular expression searched in, the request path (no query string);
    "" matches every path. `status` None answers normally (after `delay`); `times` None fires forever.
    """

    method: str = "GET"
    path: str = ""
    status: int | None = None
    times: int | None = None
    delay: float = 0.0
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    malformed: bool = False
    reset: bool = False
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the fields; raise TypeError or ValueError naming the bad one."""
        if not isinstance(self.method, str) or not self.method:
            raise ValueError("fault method must be a non-empty string such as 'GET' or '*'")
        self.method = self.method.upper()
        if not isinstance(self.path, str):
            raise TypeError("fault path must be a string (substring or regular expression)")
        if self.status is not None and (not _is_int(self.status) or not 100 <= self.status <= 599):
            raise ValueError(f"fault status must be an HTTP status 100-599 or null, not {self.status!r}")
        if self.times is not None and (not _is_int(self.times) or self.times < 0):
            raise ValueError(f"fault times must be a non-negative integer or null, not {self.times!r}")
        if isinstance(self.delay, bool) or not isinstance(self.delay, (int, float)) or self.delay < 0:
            raise ValueError(f"fault delay must be a non-negative number of seconds, not {self.delay!r}")
        self.delay = float(self.delay)
        if self.body is not None and not isinstance(self.body, str):
            raise ValueError("fault body must be a string or null")
        if not isinstance(self.headers, dict) or not all(
            isinstance(name, str) and isinstance(value, str) for name, value in self.headers.items()
        ):
            raise ValueError("fault headers must be an object of string names to string values")
        if not isinstance(self.malformed, bool) or not isinstance(self.reset, bool):
            raise TypeError("fault malformed and reset must be booleans")
        if self.malformed and self.reset:
            raise ValueError("a fault cannot be both malformed and reset")
        try:
            self._pattern = re.compile(self.path)
        except re.error:
            self._pattern = None

    @classmethod
    def from_dict(cls, entry: Any) -> Fault:
        """Build a fault from a scenario "faults" entry, rejecting unknown keys."""
        if not isinstance(entry, dict):
            raise TypeError(f"a fault must be an object, not {type(entry).__name__}")
        unknown = sorted(set(entry) - set(FAULT_FIELDS))
        if unknown:
            raise ValueError(f"unknown fault key(s) {unknown}; expected some of {list(FAULT_FIELDS)}")
        return cls(**entry)

    def as_dict(self) -> dict[str, Any]:
        """The public fields as a JSON-ready dict."""
        return {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "times": self.times,
            "delay": self.delay,
            "body": self.body,
            "headers": dict(self.headers),
            "malformed": self.malformed,
            "reset": self.reset,
        }

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to a request with this method and path."""
        if self.method not in ("*", method.upper()):
            return False
        if self.path in path:
            return True
        return self._pattern is not None and self._pattern.search(path) is not None


def _is_int(value: object) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)
