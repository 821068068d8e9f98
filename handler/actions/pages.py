"""The HTML pages an action link opens, in API Gateway's response shape. Pure: every value is escaped.

Small, readable on a phone (viewport meta, inline CSS), no JavaScript, nothing loaded from elsewhere;
the headers forbid framing, caching, referrers and every source but inline style.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from handler import wording

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
STYLE = (
    "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:36em;"
    "padding:1em;color:#1b1f24;background:#fff}h1{font-size:1.3em;margin:.2em 0 .6em}"
    "dl{margin:0 0 1em}dt{font-weight:600;margin-top:.5em}dd{margin:0;overflow-wrap:anywhere}"
    "pre{white-space:pre-wrap;overflow-wrap:anywhere;font:inherit;margin:0}"
    "label{display:block;font-weight:600;margin-top:.8em}"
    "input{box-sizing:border-box;width:100%;font:inherit;padding:.5em;border:1px solid #8c959f;"
    "border-radius:6px}"
    "button{margin-top:1.2em;width:100%;font:inherit;font-weight:600;padding:.7em;border:0;"
    "border-radius:6px;background:#0969da;color:#fff}.note{color:#57606a}"
)
MAX_SHOWN = 2000


def escaped(value: Any, limit: int = MAX_SHOWN) -> str:
    """A value as HTML text: escaped (quotes too), at most `limit` characters."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    return html.escape(text[:limit] + ("…" if len(text) > limit else ""), quote=True)


def page(status: int, title: str, body: str, locale: str, *, head_only: bool = False) -> dict[str, Any]:
    """A whole page (`body` is HTML already escaped) as an APIG response."""
    say = wording.actions(locale)
    document = (
        f'<!doctype html><html lang="{say["lang"]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escaped(title)} · {escaped(say['heading'])}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escaped(title)}</h1>{body}</body></html>"
    )
    return {
        "statusCode": status,
        "headers": dict(HEADERS),
        "body": "" if head_only else document,
        "isBase64Encoded": False,
    }


def message(
    status: int, title: str, lines: Iterable[str], locale: str, *, head_only: bool = False
) -> dict[str, Any]:
    """A page of plain sentences (each escaped)."""
    body = "".join(f"<p>{escaped(line)}</p>" for line in lines if line)
    return page(status, title, body, locale, head_only=head_only)


def _member(record: Mapping[str, Any]) -> str:
    block = record.get("master") if isinstance(record.get("master"), Mapping) else record.get("standby")
    if not isinstance(block, Mapping):
        return ""
    name, address = block.get("name") or block.get("id") or "", block.get("address") or ""
    return f"{name} ({address})" if name and address else str(name or address)


def summary(record: Mapping[str, Any], locale: str) -> str:
    """The alert as the page shows it: title, pool, master and why, every value escaped."""
    say = wording.actions(locale)
    raw_pool = record.get("pool")
    pool: Mapping[str, Any] = raw_pool if isinstance(raw_pool, Mapping) else {}
    pool_text = " ".join(str(part) for part in (pool.get("name") or "", f"({pool.get('id')})") if part)
    rows = [
        (say["alert"], escaped(record.get("title"))),
        (say["pool"], escaped(pool_text if pool.get("id") else pool.get("name"))),
        (say["master"], escaped(_member(record))),
        (say["why"], f"<pre>{escaped(record.get('text'))}</pre>"),
    ]
    return (
        "<dl>"
        + "".join(f"<dt>{escaped(name)}</dt><dd>{value}</dd>" for name, value in rows if value)
        + "</dl>"
    )


def confirm(
    record: Mapping[str, Any],
    action: str,
    form_value: str,
    what: str,
    locale: str,
    *,
    head_only: bool = False,
) -> dict[str, Any]:
    """The page a GET shows: the alert, what the action will do, the form that does it (POST, same URL)."""
    say = wording.actions(locale)
    label = wording.link_labels(locale)[action]
    form = (
        '<form method="post">'
        f'<input type="hidden" name="csrf" value="{escaped(form_value)}">'
        f'<label for="name">{escaped(say["name"])}</label>'
        '<input id="name" name="name" maxlength="80" autocomplete="name">'
        f'<label for="comment">{escaped(say["comment"])}</label>'
        '<input id="comment" name="comment" maxlength="500">'
        f'<button type="submit">{escaped(label)}</button></form>'
    )
    body = (
        f"{summary(record, locale)}<p><strong>{escaped(what)}</strong></p>"
        f'<p class="note">{escaped(say["what_after"])}</p>{form}'
    )
    return page(200, label, body, locale, head_only=head_only)
