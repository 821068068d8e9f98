"""A service that echoes a webhook's tokens at the cut: no prefix of any token, in any form, gets out.

A real loopback HTTP server answers 400 or 500 with the request's own path and query, the tokens placed
so that the 200-character quote of the answer cuts right through them (raw, percent-encoded, `+`).
Deliveries go through the real channel code (`requests`, the delivery lanes' worker threads); the
result, the captured log entries and the `channels test` output are searched. Nothing is patched.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

import pytest
from structlog.testing import CapturingLogger, capture_logs

from handler import logs
from handler.channels import Channel, channel_secrets, deliver
from handler.channels.protocol import ANSWER_CHARS
from handler.commands import channels_test
from handler.text import REDACTED, clip, redact, secret_forms, set_secrets
from tests.builders import context, demo_record

PATH_TOKEN = "T0k3nAbCdEfGhIjKlMnOpQrStUvWxYz12"
QUERY_TOKEN = "Zm9vYmFy+QUJDREVGR0hJ/Kk=="  # base64: "+" "/" "=" are percent-encoded in a URL
ENCODED_QUERY_TOKEN = quote(QUERY_TOKEN, safe="")  # Zm9vYmFy%2BQUJDREVGR0hJ%2FKk%3D%3D
MIN_PREFIX = 6
# "HTTP 400: " comes before the quote; the quote is cut to ANSWER_CHARS.
HEAD = len("HTTP 400: ")


def forms_of(token: str) -> set[str]:
    """Every form a token can be echoed in."""
    return {
        token,
        quote(token, safe=""),
        quote_plus(token, safe=""),
        quote(token, safe="").replace("%2B", "%2b").replace("%3D", "%3d").replace("%2F", "%2f"),
    }


def leaked_prefixes(text: str) -> list[str]:
    """Every prefix (MIN_PREFIX characters or more) of a token form found in `text`."""
    found = []
    for token in (PATH_TOKEN, QUERY_TOKEN):
        for form in forms_of(token):
            for length in range(MIN_PREFIX, len(form) + 1):
                if form[:length] in text:
                    found.append(form[:length])
                    break
    return found


class _Echo(BaseHTTPRequestHandler):
    """Answers the server's `status`: filler, then the request's tokens (as received) from `offset` on."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        parts = urlsplit(self.path)
        token = parts.path.rsplit("/", 1)[-1]
        query = parts.query.partition("=")[2]
        echoed = query if self.server.encoded else unquote(query)  # type: ignore[attr-defined]
        repeat = f"{token} apikey={echoed} {self.path} "
        body = ("." * self.server.offset + repeat * 4).encode()  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        """Quiet."""


@pytest.fixture
def echo() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    server.status = 400  # type: ignore[attr-defined]
    server.offset = 0  # type: ignore[attr-defined]
    server.encoded = True  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def no_secrets_left() -> Iterator[None]:
    yield
    set_secrets(())


def url_of(server: ThreadingHTTPServer) -> str:
    port = server.server_address[1]
    return f"http://127.0.0.1:{port}/hooks/{PATH_TOKEN}?apikey={ENCODED_QUERY_TOKEN}"


def deliver_logged(channel: Channel) -> tuple[list[dict[str, Any]], list[Any]]:
    with capture_logs() as captured:
        deliveries = deliver([(demo_record(), channel)], context(retry_base=0.001), logs.logger())
    return deliveries, captured


# Offsets that put the start of the first echoed token anywhere from well before the cut to just at it.
CUT_OFFSETS = sorted({0, 1, ANSWER_CHARS - 40, *range(ANSWER_CHARS - 24, ANSWER_CHARS + 1)})


@pytest.mark.parametrize("offset", CUT_OFFSETS)
@pytest.mark.parametrize("registered", [True, False], ids=["secrets-registered", "none-registered"])
def test_an_answer_echoing_the_tokens_at_the_cut_leaks_no_prefix(echo, offset, registered):
    echo.offset = offset
    channel = Channel("webhook", url_of(echo))
    if registered:
        logs.set_secrets(channel_secrets([channel]))
    deliveries, captured = deliver_logged(channel)
    assert deliveries[0]["status"] == "failed"
    error = deliveries[0]["error"]
    assert error.startswith("HTTP 400: ")
    assert REDACTED in error or offset >= ANSWER_CHARS - len(REDACTED)  # "***" itself may be cut
    assert leaked_prefixes(error) == []
    assert leaked_prefixes(json.dumps(deliveries)) == []
    assert captured, "the failed delivery is logged"
    assert leaked_prefixes(json.dumps(captured, default=str)) == []


@pytest.mark.parametrize("offset", [0, ANSWER_CHARS - HEAD, ANSWER_CHARS - 8, ANSWER_CHARS - 3])
def test_a_decoded_query_token_echoed_after_retries_leaks_no_prefix(echo, offset):
    echo.status, echo.offset, echo.encoded = 500, offset, False
    channel = Channel("webhook", url_of(echo))
    logs.set_secrets(channel_secrets([channel]))
    deliveries, captured = deliver_logged(channel)
    assert deliveries[0]["status"] == "failed"
    assert deliveries[0]["attempts"] > 1
    assert leaked_prefixes(json.dumps(deliveries)) == []
    assert leaked_prefixes(json.dumps(captured, default=str)) == []


@pytest.mark.parametrize("offset", [ANSWER_CHARS - 30, ANSWER_CHARS - 12, ANSWER_CHARS - 5])
def test_channels_test_output_and_log_carry_no_prefix(echo, offset, capsys):
    echo.offset = offset
    env = {"ELB_WATCH_WEBHOOK_URL": url_of(echo), "ELB_WATCH_MAX_ATTEMPTS": "1"}
    code = channels_test(only="webhook", output="json", timeout=5.0, env=env)
    out, err = capsys.readouterr()
    assert code != 0
    report = json.loads(out)
    assert report["channels"][0]["status"] == "failed"
    assert report["channels"][0]["error"].startswith("HTTP 400")
    assert leaked_prefixes(out) == []
    assert leaked_prefixes(err) == []


# --- the scrubber itself --------------------------------------------------------------------------


def test_every_encoded_form_of_a_registered_secret_is_redacted():
    set_secrets([QUERY_TOKEN])
    for form in forms_of(QUERY_TOKEN):
        assert redact(f"echo {form} end") == f"echo {REDACTED} end", form
        assert logs.scrub({"error": [f"x{form}y"]}, ()) == {"error": [f"x{REDACTED}y"]}, form


def test_a_secret_given_encoded_is_redacted_decoded_too():
    assert redact(f"a {QUERY_TOKEN} b", [ENCODED_QUERY_TOKEN]) == f"a {REDACTED} b"
    assert logs.scrub(f"a {QUERY_TOKEN} b", [ENCODED_QUERY_TOKEN]) == f"a {REDACTED} b"


def test_a_space_is_redacted_as_plus_and_as_percent_20():
    secret = "pass word with spaces 42"
    for form in (secret, quote_plus(secret), quote(secret)):
        assert logs.scrub(f"<{form}>", [secret]) == f"<{REDACTED}>"


def test_secret_forms_are_longest_first_and_include_the_encodings():
    forms = secret_forms([QUERY_TOKEN])
    assert [len(form) for form in forms] == sorted((len(form) for form in forms), reverse=True)
    lower_hex = ENCODED_QUERY_TOKEN.replace("%2B", "%2b").replace("%2F", "%2f").replace("%3D", "%3d")
    assert {QUERY_TOKEN, ENCODED_QUERY_TOKEN, lower_hex, quote_plus(QUERY_TOKEN, safe="")} <= set(forms)


def test_a_secret_made_mostly_of_escapes_does_not_register_a_short_decoded_form():
    assert "AB" not in secret_forms(["%41%42%43%44%45%46"])


def test_a_secret_with_a_quote_or_backslash_is_still_scrubbed():
    secret = 'tok"en\\with-quote-42'
    assert logs.scrub({"error": f"x{secret}y"}, [secret]) == {"error": f"x{REDACTED}y"}


def test_clip_scrubs_every_form_before_cutting_with_the_registered_secrets():
    set_secrets([QUERY_TOKEN])
    for form in forms_of(QUERY_TOKEN):
        for cut in range(10, 40):
            text = "." * (cut - 5) + form + " " + form
            assert leaked_prefixes(clip(text, cut)) == [], (form, cut)


def test_a_worker_thread_of_the_delivery_scrubs_with_the_run_secrets(echo):
    # A path segment the channel does not count as a token: only the run's registered secret hides it.
    run_secret = "abcdefghijk"
    echo.offset = ANSWER_CHARS - HEAD - 4
    port = echo.server_address[1]
    channel = Channel("webhook", f"http://127.0.0.1:{port}/hooks/{run_secret}")
    assert run_secret not in channel_secrets([channel])
    logs.set_secrets([run_secret])
    deliveries = deliver([(demo_record(), channel)], context(), CapturingLogger())
    error = deliveries[0]["error"]
    assert REDACTED in error
    assert not any(run_secret[:length] in error for length in range(MIN_PREFIX, len(run_secret) + 1))
