"""Escaping of cloud-originated text for each chat format. Pure.

The input is always one line of plain text (`message.plain`), so no escaped value can start a
line: headings, lists and quotes can only come from our own markup.
"""

from __future__ import annotations

import re

# Feishu card markdown: HTML character references, which Feishu documents for showing markdown
# characters literally; `<` and `&` cover its <at id=all>, <font> and <link> tags.
_LARK_MD = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "*": "&#42;",
        "_": "&#95;",
        "~": "&#126;",
        "`": "&#96;",
        "[": "&#91;",
        "]": "&#93;",
        "(": "&#40;",
        ")": "&#41;",
        "#": "&#35;",
        "\\": "&#92;",
        "|": "&#124;",
        "!": "&#33;",
        "$": "&#36;",
        "@": "&#64;",
    }
)

# DingTalk and WeCom document no escape for their markdown dialects, so markup characters become
# look-alikes that no renderer treats as markup (and `@`, `<@id>` can no longer mention anyone).
_LOOKALIKE = str.maketrans(
    {
        "*": "\u2217",  # asterisk operator
        "`": "\u02cb",  # modifier letter grave accent
        "<": "\uff1c",  # fullwidth less-than, greater-than, ampersand, tilde, backslash, at, bar
        ">": "\uff1e",
        "&": "\uff06",
        "~": "\uff5e",
        "\\": "\uff3c",
        "@": "\uff20",
        "|": "\uff5c",
    }
)
# An underscore between two letters or digits (RESPONSE_MISMATCH, acl_check_hc) cannot open or close
# emphasis and stays as it is, so ids copy correctly; any other underscore becomes a look-alike.
_LOOSE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
# A "]" followed by "(" or "[" would close a link or image: only that bracket becomes a look-alike,
# so "[MAJOR]" stays as written while "[x](http://evil)" cannot link.
_LINK_CLOSE = re.compile(r"\](?=[(\[])")

# Slack: the three characters Slack requires to be escaped in message text.
_SLACK = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})

# SMN SMS: the content may not contain [] or 【】 (operators reject it).
_SMS = str.maketrans({"[": "(", "]": ")", "【": "(", "】": ")"})


def lark_md(text: str) -> str:
    """Text shown literally inside a Feishu/Lark card markdown element."""
    return text.translate(_LARK_MD)


def lookalike_md(text: str) -> str:
    """Text that DingTalk and WeCom markdown show as written and cannot turn into markup or mentions."""
    text = _LINK_CLOSE.sub("\uff3d", _LOOSE_UNDERSCORE.sub("\uff3f", text))
    return text.translate(_LOOKALIKE)


def slack_text(text: str) -> str:
    """Text for a Slack text object: &, < and > escaped, so no <!channel>, <@U…> or <url|link>."""
    return text.translate(_SLACK)


def sms_text(text: str) -> str:
    """Text an SMS subscription of SMN accepts: no square or lenticular brackets."""
    return text.translate(_SMS)
