"""All human wording, one module per locale (`en`, `zh`); ELB_WATCH_LOCALE picks one. Pure.

A sentence belongs here, never in the module that uses it, so a translation is one file and one
review. English stands in for a locale we do not have.
"""

from __future__ import annotations

from handler.wording import en, zh

LOCALES = ("en", "zh")
_RECORD = {"en": en.RECORD, "zh": zh.RECORD}
_CHANNEL = {"en": en.CHANNEL, "zh": zh.CHANNEL}
_REASON_CODES = {"en": en.REASON_CODES, "zh": zh.REASON_CODES}
_REASON = {"en": en.REASON, "zh": zh.REASON}
_WATCHER = {"en": en.WATCHER, "zh": zh.WATCHER}
_WATCHER_ADVICE = {"en": en.WATCHER_ADVICE, "zh": zh.WATCHER_ADVICE}
_REPORT = {"en": en.REPORT, "zh": zh.REPORT}


def locale_or_default(locale: str) -> str:
    """The locale if we have it, else English."""
    return locale if locale in _RECORD else "en"


def phrases(locale: str) -> dict[str, str]:
    """The sentences of notification records and resolved notices in a locale."""
    return _RECORD[locale_or_default(locale)]


def labels(locale: str) -> dict[str, str]:
    """The labels channel messages share, in a locale."""
    return _CHANNEL[locale_or_default(locale)]


def reason_codes(locale: str) -> dict[str, str]:
    """ELB's health-check reason codes in plain words, in a locale."""
    return _REASON_CODES[locale_or_default(locale)]


def reason_words(locale: str) -> dict[str, str]:
    """How a missing or unknown reason code and the expected/actual suffix are said, in a locale."""
    return _REASON[locale_or_default(locale)]


def watcher(locale: str) -> dict[str, str]:
    """How a watcher_error's title and labels are said, in a locale (keys: scopes, "what", "title", ...)."""
    return _WATCHER[locale_or_default(locale)]


def watcher_advice(locale: str) -> dict[str, str]:
    """What to do per error code or HTTP status ("" when neither has a row), in a locale."""
    return _WATCHER_ADVICE[locale_or_default(locale)]


def report(locale: str) -> dict[str, str]:
    """How the weekly report's title and lines are said, in a locale."""
    return _REPORT[locale_or_default(locale)]


# Action links (issue 23).
_ACTIONS = {"en": en.ACTIONS, "zh": zh.ACTIONS}


def link_labels(locale: str) -> dict[str, str]:
    """The labels of the links by link name (ack, silence_1h, console, ...): the channels' `link_*` labels."""
    said = labels(locale)
    return {key.removeprefix("link_"): value for key, value in said.items() if key.startswith("link_")}


def actions(locale: str) -> dict[str, str]:
    """The sentences of the action pages and of the announcement of what a link did, in a locale."""
    return _ACTIONS[locale_or_default(locale)]
