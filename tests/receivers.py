"""Loopback receivers that answer like Feishu, DingTalk, WeCom, Slack, a webhook consumer, SMN, WeLink
and Teams, and a loopback Cloud Eye (`CesReceiver`, CreateMetricData) for the metrics.

Each is a real HTTP server on 127.0.0.1 (ephemeral port, one thread per request). It checks the
signature exactly as the service documents it, rejects a wrong one the way the service does (Feishu
and DingTalk answer HTTP 200 with an error code in the body, Slack a 4xx with a short code, SMN's API
gateway 401 APIGW.0301), records what it received, and can be told to misbehave first:
`receiver.fail_with(Reply(500), Reply(500))`, `Reply(429, headers={"Retry-After": "1"})`,
`Reply(delay=5)` (hang), `Reply(200, {"code": 9499, ...})`.

With `enforce_limits=True` (or `receiver.limits = ...`) a receiver also refuses like its service when
requests arrive faster than the service's documented limits (sliding windows counted on arrival):
Feishu 5/s and 100/min (code 11232), DingTalk 20/min (errcode 130101, then refuses for 10 minutes),
WeCom 20/min (errcode 45009), Slack about 1/s (HTTP 429 + Retry-After). `refused` counts them.

Run `python -m tests.receivers` to start them all and print the `ELB_WATCH_*` variables that point
the function at them (for trying the channels by hand with `elb-master-watch invoke` or
`elb-master-watch channels test`); each message they accept is printed as a readable preview.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from elb_simulator.signature import verify_request

LOOPBACK = "127.0.0.1"
ONE_HOUR = 3600
# How each service spells a mention in text it parses, and a markdown link.
FEISHU_AT = re.compile(r"<at id=([A-Za-z0-9_@.:-]+)></at>")
WECOM_AT = re.compile(r"<@([A-Za-z0-9_@.:-]+)>")
MARKDOWN_LINK = re.compile(r"\]\((https?://[^)\s]+)\)")


@dataclass(frozen=True)
class Reply:
    """A scripted answer: status, body (bytes, text or JSON), headers, and seconds to wait first."""

    status: int = 200
    body: Any = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, str]:
        """The body bytes and their content type."""
        if isinstance(self.body, bytes):
            return self.body, "text/plain; charset=utf-8"
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode("utf-8"), "application/json; charset=utf-8"


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        """The body parsed as JSON (None if it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Receiver:
    """A loopback HTTP server that records requests, plays scripted replies, then answers like a service."""

    path = "/"
    # The service's documented limits: (requests, per seconds); enforced when `enforce_limits` is set.
    LIMITS: tuple[tuple[int, float], ...] = ()
    # After going over a limit, the service refuses everything for this long (DingTalk: 10 minutes).
    PENALTY_SECONDS = 0.0

    def __init__(self) -> None:
        """Prepare (the server starts in __enter__)."""
        self.limits: tuple[tuple[int, float], ...] = ()
        self.refused = 0
        self._arrivals: deque[float] = deque(maxlen=1000)
        self._penalty_until = 0.0
        self.received: list[Received] = []
        self.accepted: list[Any] = []
        self._plan: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- the service's behaviour (subclasses) ------------------------------------------------------
    def mentioned_in(self, payload: Any) -> frozenset[str]:
        """Who an accepted message mentions, read only where the service reads mentions.

        "user:<id>", "mobile:<number>", "all". A mention put anywhere else (a markdown type's list,
        escaped text, plain_text) is not one, as for the real service.
        """
        return frozenset()

    @property
    def mentions(self) -> list[frozenset[str]]:
        """Who each accepted message mentions, in order."""
        return [self.mentioned_in(payload) for payload in self.accepted]

    @property
    def links(self) -> list[list[str]]:
        """The URLs each accepted message offers as links or buttons (the service's own mechanism)."""
        return [self.linked_in(payload) for payload in self.accepted]

    def linked_in(self, payload: Any) -> list[str]:
        """The URLs a message shows as links (subclasses read their service's link or button fields)."""
        return []

    def answer(self, request: Received) -> Reply:
        """How the service answers a request that no scripted reply took."""
        return Reply(200, "ok")

    def throttled(self) -> Reply:
        """How the service refuses a request over its rate limit."""
        return Reply(429, "rate limited")

    def enforce_limits(self, on: bool = True) -> None:
        """Refuse like the service when requests come faster than its documented LIMITS."""
        self.limits = self.LIMITS if on else ()

    def _over_limit(self, at: float) -> bool:
        """Count an arrival; whether it goes over a limit (or falls in a penalty)."""
        if not self.limits:
            return False
        self._arrivals.append(at)
        if at < self._penalty_until:
            return True
        for count, window in self.limits:
            if sum(1 for seen in self._arrivals if seen > at - window) > count:
                self._penalty_until = at + self.PENALTY_SECONDS
                return True
        return False

    # -- control -----------------------------------------------------------------------------------
    def fail_with(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, before behaving normally again."""
        with self._lock:
            self._plan.extend(replies)

    @property
    def port(self) -> int:
        """The ephemeral port the server listens on."""
        assert self._server is not None, "receiver not started"
        return int(self._server.server_address[1])

    @property
    def base(self) -> str:
        """http://127.0.0.1:<port>."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """The webhook URL a channel is configured with."""
        return self.base + self.path

    def _next(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            scripted = self._plan.popleft() if self._plan else None
            over = scripted is None and self._over_limit(request.at)
            if over:
                self.refused += 1
        if over:
            return self.throttled()
        return scripted if scripted is not None else self.answer(request)

    def __enter__(self) -> Receiver:
        """Start serving on 127.0.0.1, port chosen by the OS."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                target = urlsplit(self.path)
                request = Received(
                    method="POST",
                    target=self.path,
                    path=target.path,
                    query=parse_qs(target.query, keep_blank_values=True),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                    at=time.monotonic(),
                )
                reply = receiver._next(request)
                self.close_connection = True
                if reply.delay and receiver._stopping.wait(reply.delay):
                    return
                payload, content_type = reply.encoded()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - overridden signature
                return

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01})
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop serving and release any request still hanging."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _hmac_b64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


class FeishuReceiver(Receiver):
    """A Feishu/Lark custom bot: POST /open-apis/bot/v2/hook/<token>, JSON body, `code` in the answer.

    Signature check as documented for "signature verification": the body's `timestamp` (seconds)
    must be within one hour of now and `sign` must equal
    base64(HMAC-SHA256(key = timestamp + "\\n" + secret, message = empty)); otherwise HTTP 200
    {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}.
    """

    TOKEN = "5e3d587e-d78e-4a07-bd07-265f269f86fd"
    MAX_BODY_BYTES = 20_000
    LIMITS = ((5, 1.0), (100, 60.0))

    def throttled(self) -> Reply:
        """Feishu's frequency limit: HTTP 200 with code 11232."""
        return Reply(200, {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]"})

    def __init__(self, secret: str = "") -> None:
        """A bot with signature verification when `secret` is set."""
        super().__init__()
        self.secret = secret
        self.path = f"/open-apis/bot/v2/hook/{self.TOKEN}"

    def answer(self, request: Received) -> Reply:
        """Answer like Feishu: always HTTP 200, the verdict in `code`."""
        if request.path != self.path:
            return Reply(200, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"})
        payload = request.json()
        if not isinstance(payload, dict) or len(request.body) > self.MAX_BODY_BYTES:
            return Reply(200, {"code": 9499, "msg": "Bad Request", "data": {}})
        if self.secret:
            try:
                timestamp = int(payload.get("timestamp", ""))
            except (TypeError, ValueError):
                timestamp = 0
            expected = _hmac_b64(f"{timestamp}\n{self.secret}".encode(), b"")
            fresh = abs(time.time() - timestamp) <= ONE_HOUR
            if not fresh or not hmac.compare_digest(expected, str(payload.get("sign", ""))):
                message = "sign match fail or timestamp is not within one hour from current time"
                return Reply(200, {"code": 19021, "msg": message, "data": {}})
        card = payload.get("card")
        header = card.get("header", {}) if isinstance(card, dict) else {}
        if payload.get("msg_type") != "interactive" or not header.get("title") or not card.get("elements"):
            return Reply(200, {"code": 9499, "msg": "Bad Request: not an interactive card", "data": {}})
        self.accepted.append(payload)
        return Reply(200, {"code": 0, "msg": "success", "data": {}})

    def mentioned_in(self, payload: Any) -> frozenset[str]:
        """`<at id=…></at>` in the card's markdown elements (escaped `&lt;at` is text, not a mention)."""
        found: set[str] = set()
        for element in payload["card"]["elements"]:
            if element.get("tag") in {"markdown", "lark_md"}:
                for who in FEISHU_AT.findall(element.get("content", "")):
                    found.add("all" if who == "all" else f"user:{who}")
        return frozenset(found)

    def linked_in(self, payload: Any) -> list[str]:
        """The `url` of each button of the card's action elements."""
        return [
            action["url"]
            for element in payload["card"]["elements"]
            if element.get("tag") == "action"
            for action in element.get("actions", [])
            if action.get("tag") == "button" and action.get("url")
        ]


class DingTalkReceiver(Receiver):
    """A DingTalk custom robot: POST /robot/send?access_token=<token>, `errcode` in the answer.

    Signature check as documented for "加签": query `timestamp` (milliseconds, within one hour) and
    `sign` = urlencode(base64(HMAC-SHA256(key = secret, message = timestamp + "\\n" + secret)));
    otherwise HTTP 200 {"errcode": 310000, "errmsg": "sign not match, ..."}.
    """

    TOKEN = "b7a4c2e1f0d94c8e9a6b5d3c2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"
    MAX_BODY_BYTES = 20_000
    LIMITS = ((20, 60.0),)
    PENALTY_SECONDS = 600.0

    def throttled(self) -> Reply:
        """DingTalk's limit: errcode 130101, and the robot stays limited for 10 minutes."""
        return Reply(200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})

    def __init__(self, secret: str = "") -> None:
        """A robot with "加签" when `secret` is set."""
        super().__init__()
        self.secret = secret
        self.path = f"/robot/send?access_token={self.TOKEN}"

    def answer(self, request: Received) -> Reply:
        """Answer like DingTalk: always HTTP 200, the verdict in `errcode`."""
        if request.path != "/robot/send" or request.query.get("access_token") != [self.TOKEN]:
            return Reply(200, {"errcode": 300001, "errmsg": "token is not exist"})
        if self.secret:
            timestamp = (request.query.get("timestamp") or [""])[0]
            sign = (request.query.get("sign") or [""])[0]
            expected = _hmac_b64(self.secret.encode(), f"{timestamp}\n{self.secret}".encode())
            fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) <= ONE_HOUR * 1000
            if not fresh or not hmac.compare_digest(expected, sign):
                more = "more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"
                return Reply(200, {"errcode": 310000, "errmsg": f"sign not match, {more}"})
        if len(request.body) > self.MAX_BODY_BYTES:
            return Reply(200, {"errcode": 460101, "errmsg": "message too long, exceed 20000 bytes"})
        payload = request.json()
        markdown = payload.get("markdown") if isinstance(payload, dict) else None
        if not isinstance(markdown, dict) or payload.get("msgtype") != "markdown" or not markdown.get("text"):
            return Reply(200, {"errcode": 40035, "errmsg": "缺少参数 json"})
        at = payload.get("at", {})
        if not isinstance(at, dict) or not all(
            isinstance(at.get(key, []), list) and all(isinstance(v, str) for v in at.get(key, []))
            for key in ("atMobiles", "atUserIds")
        ):
            return Reply(200, {"errcode": 40035, "errmsg": "缺少参数 at"})
        self.accepted.append(payload)
        return Reply(200, {"errcode": 0, "errmsg": "ok"})

    def mentioned_in(self, payload: Any) -> frozenset[str]:
        """`at.atMobiles` / `at.atUserIds` with their "@…" in the text (as DingTalk shows them), `isAtAll`."""
        at, text = payload.get("at", {}), payload["markdown"]["text"]
        found = {f"mobile:{m}" for m in at.get("atMobiles", []) if f"@{m}" in text}
        found |= {f"user:{u}" for u in at.get("atUserIds", []) if f"@{u}" in text}
        return frozenset(found | ({"all"} if at.get("isAtAll") is True else set()))

    def linked_in(self, payload: Any) -> list[str]:
        """The targets of markdown links in the text."""
        return MARKDOWN_LINK.findall(payload["markdown"]["text"])


class WeComReceiver(Receiver):
    """A WeCom group robot: POST /cgi-bin/webhook/send?key=<key>, markdown.content <= 4096 bytes."""

    KEY = "693a91f6-7aoc-4bc4-97a0-0ec2sifa5aaa"
    MAX_CONTENT_BYTES = 4096
    MAX_TEXT_BYTES = 2048
    LIMITS = ((20, 60.0),)

    def throttled(self) -> Reply:
        """WeCom's limit: errcode 45009."""
        return Reply(200, {"errcode": 45009, "errmsg": "api freq out of limit"})

    def __init__(self) -> None:
        """A robot (WeCom robots are not signed: the key is the credential)."""
        super().__init__()
        self.path = f"/cgi-bin/webhook/send?key={self.KEY}"

    def answer(self, request: Received) -> Reply:
        """Answer like WeCom: HTTP 200, the verdict in `errcode`."""
        if request.path != "/cgi-bin/webhook/send" or request.query.get("key") != [self.KEY]:
            return Reply(200, {"errcode": 93000, "errmsg": "invalid webhook url, hint: [test]"})
        payload = request.json()
        kind = payload.get("msgtype") if isinstance(payload, dict) else None
        body = payload.get(kind) if kind in {"markdown", "text"} else None
        if not isinstance(body, dict):
            return Reply(200, {"errcode": 40008, "errmsg": "invalid message type"})
        content = body.get("content")
        limit = self.MAX_CONTENT_BYTES if kind == "markdown" else self.MAX_TEXT_BYTES
        if not isinstance(content, str) or len(content.encode("utf-8")) > limit:
            message = f"{kind}.content exceed max length {limit}. invalid Request Parameter"
            return Reply(200, {"errcode": 40058, "errmsg": message})
        self.accepted.append(payload)
        return Reply(200, {"errcode": 0, "errmsg": "ok"})

    def mentioned_in(self, payload: Any) -> frozenset[str]:
        """markdown: `<@userid>` in the content only; text: `mentioned_list` and `mentioned_mobile_list`."""
        if payload["msgtype"] == "markdown":
            return frozenset(f"user:{who}" for who in WECOM_AT.findall(payload["markdown"]["content"]))
        text = payload["text"]
        found = {"all" if who == "@all" else f"user:{who}" for who in text.get("mentioned_list", [])}
        found |= {"all" if m == "@all" else f"mobile:{m}" for m in text.get("mentioned_mobile_list", [])}
        return frozenset(found)

    def linked_in(self, payload: Any) -> list[str]:
        """markdown links in a markdown content; URLs in a text content (WeCom links them)."""
        if payload["msgtype"] == "markdown":
            return MARKDOWN_LINK.findall(payload["markdown"]["content"])
        return re.findall(r"https?://\S+", payload["text"]["content"])


class SlackReceiver(Receiver):
    """A Slack incoming webhook: 200 "ok", or a 4xx with a short error code, checking Block Kit limits."""

    PATH = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    LIMITS = ((1, 1.0),)

    def throttled(self) -> Reply:
        """Slack's limit: HTTP 429 with Retry-After."""
        return Reply(429, "rate_limited", {"Retry-After": "1"})

    def __init__(self) -> None:
        """An incoming webhook."""
        super().__init__()
        self.path = self.PATH

    @staticmethod
    def _blocks_valid(blocks: Any) -> bool:
        if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
            return False
        for block in blocks:
            text = block.get("text") if isinstance(block, dict) else None
            if block.get("type") == "header" and (
                not isinstance(text, dict)
                or text.get("type") != "plain_text"
                or len(text.get("text", "")) > 150
            ):
                return False
            if block.get("type") == "actions" and any(
                element.get("type") == "button"
                and (len(element.get("text", {}).get("text", "")) > 75 or len(element.get("url", "")) > 3000)
                for element in block.get("elements", [])
            ):
                return False
            if block.get("type") == "section":
                fields = block.get("fields", [])
                if isinstance(text, dict) and len(text.get("text", "")) > 3000:
                    return False
                if len(fields) > 10 or any(len(field.get("text", "")) > 2000 for field in fields):
                    return False
        return True

    def answer(self, request: Received) -> Reply:
        """Answer like Slack: "ok", or invalid_payload / no_text / invalid_blocks / no_service."""
        if request.path != self.PATH:
            return Reply(404, "no_service")
        payload = request.json()
        if not isinstance(payload, dict):
            return Reply(400, "invalid_payload")
        if not payload.get("text") and not payload.get("blocks"):
            return Reply(400, "no_text")
        if "blocks" in payload and not self._blocks_valid(payload["blocks"]):
            return Reply(400, "invalid_blocks")
        self.accepted.append(payload)
        return Reply(200, "ok")

    @staticmethod
    def _mrkdwn(blocks: list[Any]) -> Iterator[str]:
        for block in blocks:
            for text in (block.get("text"), *block.get("fields", []), *block.get("elements", [])):
                if isinstance(text, dict) and text.get("type") == "mrkdwn":
                    yield text.get("text", "")

    def mentioned_in(self, payload: Any) -> frozenset[str]:
        """`<@U…>` and `<!channel>`/`<!here>` in mrkdwn text objects (plain_text is never parsed)."""
        found: set[str] = set()
        for text in self._mrkdwn(payload.get("blocks", [])):
            found |= {f"user:{who}" for who in re.findall(r"<@([A-Za-z0-9_@.:-]+)>", text)}
            if re.search(r"<!(channel|here|everyone)>", text):
                found.add("all")
        return frozenset(found)

    def linked_in(self, payload: Any) -> list[str]:
        """The `url` of each button in actions blocks."""
        return [
            element["url"]
            for block in payload.get("blocks", [])
            if block.get("type") == "actions"
            for element in block.get("elements", [])
            if element.get("type") == "button" and element.get("url")
        ]


class WebhookReceiver(Receiver):
    """A generic Alertmanager-webhook consumer that checks X-Signature when it has a secret."""

    PATH = "/hooks/elb-master-watch/4f9c2b7d1e8a6c3f"
    ENVELOPE_KEYS = frozenset(
        {"version", "groupKey", "status", "receiver", "groupLabels", "commonLabels", "commonAnnotations"}
        | {"externalURL", "alerts"}
    )

    def __init__(self, secret: str = "") -> None:
        """A consumer that requires `X-Signature: sha256=<hex HMAC of the body>` when `secret` is set."""
        super().__init__()
        self.secret = secret
        self.path = self.PATH

    def answer(self, request: Received) -> Reply:
        """200 for a correctly signed Alertmanager envelope, 401 for a bad signature, 400 otherwise."""
        if request.path != self.PATH:
            return Reply(404, "not found")
        if self.secret:
            expected = "sha256=" + hmac.new(self.secret.encode(), request.body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, request.headers.get("x-signature", "")):
                return Reply(401, "invalid signature")
        payload = request.json()
        if (
            not isinstance(payload, dict)
            or not payload.keys() >= self.ENVELOPE_KEYS
            or payload["version"] != "4"
        ):
            return Reply(400, "not an Alertmanager version 4 envelope")
        self.accepted.append(payload)
        return Reply(200, "ok")


class WeLinkReceiver(Receiver):
    """A WeLink group robot: POST /api/werobot/v1/webhook/send?token=<token>&channel=standard.

    Checks what WeLink documents: messageType "text", content.text of 1-500 characters, a timeStamp in
    milliseconds within 10 minutes of now, a uuid never seen before; answers HTTP 200 with the verdict
    in `code` ("0", 58404 unknown robot, 58601 bad parameter).
    """

    TOKEN = "a69f751172bb4a36abe5de9ddf9aa1cc"
    TEN_MINUTES_MS = 600_000

    def __init__(self) -> None:
        """A robot (the token in the URL is the credential)."""
        super().__init__()
        self.path = f"/api/werobot/v1/webhook/send?token={self.TOKEN}&channel=standard"
        self.uuids: set[str] = set()

    @staticmethod
    def _error(code: str, message: str) -> Reply:
        return Reply(200, {"code": code, "data": None, "message": message})

    def answer(self, request: Received) -> Reply:
        """Answer like WeLink: HTTP 200, the verdict in `code`."""
        if request.path != "/api/werobot/v1/webhook/send" or request.query.get("token") != [self.TOKEN]:
            return self._error("58404", "robot not exist")
        if request.query.get("channel") != ["standard"]:
            return self._error("58601", "channel is invalid")
        payload = request.json()
        content = payload.get("content") if isinstance(payload, dict) else None
        text = content.get("text") if isinstance(content, dict) else None
        if payload.get("messageType") != "text" or not isinstance(text, str):
            return self._error("58601", "messageType or content.text is invalid")
        if not 1 <= len(text.encode("utf-16-le")) // 2 <= 500:
            return self._error("58601", "content.text length must be 1~500")
        stamp = payload.get("timeStamp")
        if not isinstance(stamp, int) or abs(time.time() * 1000 - stamp) > self.TEN_MINUTES_MS:
            return self._error("58601", "timeStamp is invalid or expired")
        unique = payload.get("uuid")
        if not isinstance(unique, str) or not unique or unique in self.uuids:
            return self._error("58601", "uuid is invalid or repeated")
        accounts = payload.get("atAccounts")
        if payload.get("isAt") and (not isinstance(accounts, list) or not accounts):
            return self._error("58601", "atAccounts is required when isAt is true")
        if not isinstance(payload.get("isAt", False), bool) or not isinstance(
            payload.get("isAtAll", False), bool
        ):
            return self._error("58601", "isAt and isAtAll must be booleans")
        self.uuids.add(unique)
        self.accepted.append(payload)
        return Reply(200, {"code": "0", "data": "success", "message": "ok"})

    def mentioned_in(self, payload: Any) -> frozenset[str]:
        """`atAccounts` when `isAt` is true, and `isAtAll` (an "@" in the text mentions nobody)."""
        found = {f"user:{who}" for who in payload.get("atAccounts", [])} if payload.get("isAt") else set()
        return frozenset(found | ({"all"} if payload.get("isAtAll") else set()))

    def linked_in(self, payload: Any) -> list[str]:
        """URLs in the text (WeLink shows them as links)."""
        return re.findall(r"https?://\S+", payload["content"]["text"])


class TeamsReceiver(Receiver):
    """A Teams Workflows webhook ("When a Teams webhook request is received"): 202 for an Adaptive Card.

    The URL's `sig` must match (else 401 as Azure answers); the body must be a message with exactly
    one Adaptive Card attachment (AdaptiveCard, a version, a non-empty body) of at most 28 KB (else
    413); TextBlocks need text, FactSet facts need title and value.
    """

    WORKFLOW = "4f1c7a2e9b3d4e5f8a6b0c1d2e3f4a5b"
    SIG = "Xk3v9Q0aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
    MAX_BODY_BYTES = 28_000
    LIMITS = ((4, 1.0), (60, 30.0))

    def throttled(self) -> Reply:
        """Teams' limit: HTTP 429."""
        return Reply(429, "Too many requests", {"Retry-After": "1"})

    def __init__(self) -> None:
        """A workflow webhook (its `sig` is the credential)."""
        super().__init__()
        self.base_path = f"/workflows/{self.WORKFLOW}/triggers/manual/paths/invoke"
        self.path = (
            f"{self.base_path}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.SIG}"
        )

    @staticmethod
    def _error(status: int, code: str, message: str) -> Reply:
        return Reply(status, {"error": {"code": code, "message": message}})

    @staticmethod
    def _card_valid(card: Any) -> bool:
        if not isinstance(card, dict) or card.get("type") != "AdaptiveCard" or not card.get("version"):
            return False
        body = card.get("body")
        if not isinstance(body, list) or not body:
            return False
        for element in body:
            if not isinstance(element, dict):
                return False
            if element.get("type") == "TextBlock" and not isinstance(element.get("text"), str):
                return False
            if element.get("type") == "FactSet" and not all(
                isinstance(fact, dict)
                and isinstance(fact.get("title"), str)
                and isinstance(fact.get("value"), str)
                for fact in element.get("facts", [])
            ):
                return False
        return True

    def answer(self, request: Received) -> Reply:
        """Answer like a Workflows trigger: 202 with no body, or an error object."""
        if request.path != self.base_path:
            return self._error(404, "WorkflowNotFound", "The workflow could not be found.")
        if request.query.get("sig") != [self.SIG]:
            return self._error(401, "DirectApiAuthorizationRequired", "The request must be authenticated.")
        if len(request.body) > self.MAX_BODY_BYTES:
            return self._error(413, "RequestEntityTooLarge", "The message is too large for Teams.")
        payload = request.json()
        attachments = payload.get("attachments") if isinstance(payload, dict) else None
        if (
            payload.get("type") != "message"
            or not isinstance(attachments, list)
            or len(attachments) != 1
            or attachments[0].get("contentType") != "application/vnd.microsoft.card.adaptive"
            or not self._card_valid(attachments[0].get("content"))
        ):
            return self._error(400, "TriggerInputSchemaMismatch", "The input body does not match the schema.")
        self.accepted.append(payload)
        return Reply(202, b"")

    def mentioned_in(self, payload: Any) -> frozenset[str]:
        """A `msteams.entities` mention whose `<at>…</at>` is in a TextBlock (else Teams drops it)."""
        card = payload["attachments"][0]["content"]
        texts = " ".join(e.get("text", "") for e in card["body"] if e.get("type") == "TextBlock")
        entities = card.get("msteams", {}).get("entities", [])
        return frozenset(
            f"user:{entity['mentioned']['id']}"
            for entity in entities
            if entity.get("type") == "mention" and entity.get("text", "\0") in texts
        )

    def linked_in(self, payload: Any) -> list[str]:
        """The `url` of each Action.OpenUrl of the card."""
        card = payload["attachments"][0]["content"]
        return [a["url"] for a in card.get("actions", []) if a.get("type") == "Action.OpenUrl"]


class SmnReceiver(Receiver):
    """SMN's PublishMessage on loopback: POST /v2/{project_id}/notifications/topics/{topic_urn}/publish.

    Requests must carry the SDK-HMAC-SHA256 signature of one of `credentials` (checked by the ELB
    simulator's verifier); a bad one gets 401 APIGW.0301 as from the API gateway. The body must have
    a subject of at most 512 bytes and a message_structure that is JSON with a "default".
    """

    def __init__(
        self,
        *,
        ak: str = "SMNTESTACCESSKEY0001",
        sk: str = "smn-test-secret-key-0123456789abcdef",
        project_id: str = "04dd36f964000fe22f9ac00bc85b1a1d",
        region: str = "cn-north-4",
        topic: str = "elb-alerts",
    ) -> None:
        """A topic in a project and region, reachable with one key pair."""
        super().__init__()
        self.ak, self.sk = ak, sk
        self.project_id, self.region = project_id, region
        self.topic_urn = f"urn:smn:{region}:{project_id}:{topic}"
        self.path = f"/v2/{project_id}/notifications/topics/{self.topic_urn}/publish"

    def env(self) -> dict[str, str]:
        """The SDK's endpoint override that points SmnClient at this receiver."""
        return {f"HUAWEICLOUD_SDK_REGION_SMN_{self.region.replace('-', '_').upper()}": self.base}

    def _error(self, status: int, code: str, message: str, request_id: str) -> Reply:
        body = {"error_code": code, "error_msg": message, "request_id": request_id}
        return Reply(status, body, {"X-Request-Id": request_id})

    def answer(self, request: Received) -> Reply:
        """Answer like SMN: 200 {"request_id", "message_id"}, or an error body."""
        request_id = uuid.uuid4().hex
        rejection = verify_request(
            method=request.method,
            target=request.target,
            headers=request.headers,
            body=request.body,
            credentials=[{"ak": self.ak, "sk": self.sk}],
            now=datetime.now(timezone.utc),
        )
        if rejection is not None:
            return self._error(401, "APIGW.0301", rejection, request_id)
        if unquote(request.path) != self.path:
            return self._error(404, "SMN.00010008", "The topic does not exist.", request_id)
        payload = request.json()
        subject = payload.get("subject", "") if isinstance(payload, dict) else None
        try:
            structure = json.loads(payload["message_structure"]) if isinstance(payload, dict) else None
        except (KeyError, TypeError, ValueError):
            structure = None
        if (
            not isinstance(subject, str)
            or len(subject.encode("utf-8")) > 512
            or not isinstance(structure, dict)
            or not isinstance(structure.get("default"), str)
        ):
            return self._error(400, "SMN.00010001", "Invalid subject or message_structure.", request_id)
        self.accepted.append(payload)
        return Reply(
            200, {"request_id": request_id, "message_id": uuid.uuid4().hex}, {"X-Request-Id": request_id}
        )


class CesReceiver(Receiver):
    """Cloud Eye's CreateMetricData on loopback: POST /V1.0/{project_id}/metric-data.

    Requests must carry the SDK-HMAC-SHA256 signature of the key pair (401 APIGW.0301 otherwise). The
    body is checked against the API's limits (1 to 10,000 items, at most 512 KB, ttl 1..604800,
    collect_time from 3 days before to 10 minutes after now, 1 to 3 dimensions of the documented
    form): a wrong one gets 400 ces.0014. Accepted bodies are kept (`accepted`, one list per request);
    `points()` flattens them. The answer is 201 with an empty body, as Cloud Eye's.
    """

    _NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
    _VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,255}")
    _NAMESPACE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\.[A-Za-z][A-Za-z0-9_]*")

    def __init__(
        self,
        *,
        ak: str = "CESTESTACCESSKEY0001",
        sk: str = "ces-test-secret-key-0123456789abcdef",
        project_id: str = "04dd36f964000fe22f9ac00bc85b1a1d",
        region: str = "cn-north-4",
    ) -> None:
        """A project's Cloud Eye in one region, reachable with one key pair."""
        super().__init__()
        self.ak, self.sk, self.project_id, self.region = ak, sk, project_id, region
        self.path = f"/V1.0/{project_id}/metric-data"

    def env(self) -> dict[str, str]:
        """The SDK's endpoint override that points CesClient at this receiver."""
        return {f"HUAWEICLOUD_SDK_REGION_CES_{self.region.replace('-', '_').upper()}": self.base}

    def _item_problem(self, item: Any, now_ms: float) -> str | None:
        metric = item.get("metric") if isinstance(item, dict) else None
        if not isinstance(metric, dict):
            return "metric is missing"
        namespace, dimensions = metric.get("namespace", ""), metric.get("dimensions")
        if not (3 <= len(namespace) <= 32 and self._NAMESPACE.fullmatch(namespace)):
            return f"namespace {namespace!r} is invalid"
        if not isinstance(dimensions, list) or not 1 <= len(dimensions) <= 3:
            return "dimensions must be 1 to 3"
        for dimension in dimensions:
            if not self._NAME.fullmatch(str(dimension.get("name"))) or not self._VALUE.fullmatch(
                str(dimension.get("value"))
            ):
                return f"dimension {dimension!r} is invalid"
        if not isinstance(item.get("ttl"), int) or not 1 <= item["ttl"] <= 604_800:
            return "ttl must be 1..604800"
        collect = item.get("collect_time")
        if not isinstance(collect, int) or not now_ms - 3 * 86_400_000 < collect < now_ms + 600_000:
            return "collect_time is out of range"
        if isinstance(item.get("value"), bool) or not isinstance(item.get("value"), int | float):
            return "value must be a number"
        return None

    def answer(self, request: Received) -> Reply:
        """Answer like Cloud Eye: 201 and no body, or an error body."""
        rejection = verify_request(
            method=request.method,
            target=request.target,
            headers=request.headers,
            body=request.body,
            credentials=[{"ak": self.ak, "sk": self.sk}],
            now=datetime.now(timezone.utc),
        )
        if rejection is not None:
            return Reply(401, {"error_code": "APIGW.0301", "error_msg": rejection})
        if request.path != self.path:
            return Reply(404, {"error_code": "APIGW.0101", "error_msg": "The API does not exist."})
        if len(request.body) > 512 * 1024:
            return Reply(413, {"error_code": "ces.0038", "error_msg": "Request body too large."})
        body = request.json()
        if not isinstance(body, list) or not 1 <= len(body) <= 10_000:
            return Reply(400, {"error_code": "ces.0014", "error_msg": "1 to 10000 items expected."})
        now_ms = time.time() * 1000
        for item in body:
            problem = self._item_problem(item, now_ms)
            if problem is not None:
                return Reply(400, {"error_code": "ces.0014", "error_msg": problem})
        self.accepted.append(body)
        return Reply(201, b"")

    def points(self) -> list[dict[str, Any]]:
        """Every data point accepted, as {"metric", "dimensions": {name: value}, "value", ...}."""
        return [
            {
                "namespace": item["metric"]["namespace"],
                "metric": item["metric"]["metric_name"],
                "dimensions": {d["name"]: d["value"] for d in item["metric"]["dimensions"]},
                "value": item["value"],
                "unit": item.get("unit"),
            }
            for body in self.accepted
            for item in body
        ]


@dataclass
class Receivers:
    """One receiver per channel, started together."""

    feishu: FeishuReceiver
    dingtalk: DingTalkReceiver
    wecom: WeComReceiver
    slack: SlackReceiver
    webhook: WebhookReceiver
    smn: SmnReceiver
    welink: WeLinkReceiver
    teams: TeamsReceiver

    def env(self) -> dict[str, str]:
        """The ELB_WATCH_* channel variables (and the SMN endpoint override) pointing at the receivers."""
        env = {
            "ELB_WATCH_SMN_TOPIC_URN": self.smn.topic_urn,
            "ELB_WATCH_FEISHU_WEBHOOK": self.feishu.url,
            "ELB_WATCH_DINGTALK_WEBHOOK": self.dingtalk.url,
            "ELB_WATCH_WECOM_WEBHOOK": self.wecom.url,
            "ELB_WATCH_SLACK_WEBHOOK": self.slack.url,
            "ELB_WATCH_WEBHOOK_URL": self.webhook.url,
            "ELB_WATCH_WELINK_WEBHOOK": self.welink.url,
            "ELB_WATCH_TEAMS_WEBHOOK": self.teams.url,
            **self.smn.env(),
        }
        for name, receiver in (
            ("FEISHU", self.feishu),
            ("DINGTALK", self.dingtalk),
            ("WEBHOOK", self.webhook),
        ):
            if receiver.secret:
                env[f"ELB_WATCH_{name}_SECRET"] = receiver.secret
        return env

    def all(self) -> tuple[Receiver, ...]:
        """Every receiver."""
        return (
            self.smn,
            self.feishu,
            self.dingtalk,
            self.wecom,
            self.slack,
            self.webhook,
            self.welink,
            self.teams,
        )

    def enforce_limits(self, on: bool = True) -> None:
        """Every receiver refuses like its service when sent to faster than its documented limits."""
        for receiver in self.all():
            receiver.enforce_limits(on)


@contextmanager
def running_receivers(
    *,
    secret: str = "",
    smn_ak: str = "SMNTESTACCESSKEY0001",
    smn_sk: str = "smn-test-secret-key-0123456789abcdef",
) -> Iterator[Receivers]:
    """All eight receivers on loopback; Feishu, DingTalk and the webhook require `secret` when given."""
    with ExitStack() as stack:
        yield Receivers(
            feishu=stack.enter_context(FeishuReceiver(secret)),
            dingtalk=stack.enter_context(DingTalkReceiver(secret)),
            wecom=stack.enter_context(WeComReceiver()),
            slack=stack.enter_context(SlackReceiver()),
            webhook=stack.enter_context(WebhookReceiver(secret)),
            smn=stack.enter_context(SmnReceiver(ak=smn_ak, sk=smn_sk)),
            welink=stack.enter_context(WeLinkReceiver()),
            teams=stack.enter_context(TeamsReceiver()),
        )


_TEXT_KEYS = frozenset({"title", "content", "text", "subject", "summary", "description", "default"})
_MARKUP = (
    (re.compile(r"<font[^>]*>|</font>|<at[^>]*>[^<]*</at>"), ""),
    (re.compile(r"\[([^\]]+)\]\([^)]+\)"), r"\1"),  # [text](url)
    (re.compile(r"<[^|>]+\|([^>]+)>"), r"\1"),  # Slack <url|text>
    (re.compile(r"\*\*|__|`"), ""),
    (re.compile(r"^\s*(?:#{1,6}\s+|>\s?)"), ""),
)


def _plain(line: str) -> str:
    for pattern, replacement in _MARKUP:
        line = pattern.sub(replacement, line)
    return line.strip()


def preview(payload: Any, limit: int = 14) -> list[str]:
    """A message as a person would read it in the service: its text lines, markup removed, no repeats."""
    texts: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, str):
            if key == "message_structure":
                try:
                    walk(json.loads(value), key)
                except ValueError:
                    return
            elif key in _TEXT_KEYS:
                texts.append(value)
        elif isinstance(value, dict):
            for name, item in value.items():
                walk(item, str(name))
        elif isinstance(value, list):
            for item in value:
                walk(item, key)

    walk(payload)
    lines: list[str] = []
    for text in texts:
        for raw in text.replace("\\n", "\n").splitlines():
            line = _plain(raw)
            if line and line not in lines:
                lines.append(line)
    shown = lines[:limit]
    if len(lines) > limit:
        shown.append(f"… {len(lines) - limit} more line(s)")
    return shown or ["(no text)"]


def main() -> None:
    """Start every receiver and print the variables that point the function at them, until Ctrl-C."""
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--secret", default="local-signing-secret", help="signing secret for Feishu/DingTalk/webhook"
    )
    parser.add_argument("--ak", default="SMNTESTACCESSKEY0001", help="access key SMN accepts")
    parser.add_argument("--sk", default="smn-test-secret-key-0123456789abcdef", help="secret key SMN accepts")
    parser.add_argument(
        "--scenario", help="accept the keys of a simulator scenario (a path, or a name such as demo)"
    )
    arguments = parser.parse_args()
    if arguments.scenario:
        from elb_simulator import find_scenario  # noqa: PLC0415

        path = find_scenario(arguments.scenario)
        keys = json.loads(path.read_text(encoding="utf-8"))["credentials"][0]
        arguments.ak, arguments.sk = keys["ak"], keys["sk"]
    with running_receivers(secret=arguments.secret, smn_ak=arguments.ak, smn_sk=arguments.sk) as receivers:
        for name, value in receivers.env().items():
            print(f"export {name}='{value}'")
        # The loopback SMN checks signatures: `channels test` signs with these (test keys, not real ones).
        print(f"export HUAWEICLOUD_SDK_AK='{arguments.ak}'")
        print(f"export HUAWEICLOUD_SDK_SK='{arguments.sk}'")
        print("# receivers running; Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(1)
                for receiver in receivers.all():
                    while receiver.accepted:
                        payload = receiver.accepted.pop(0)
                        service = type(receiver).__name__.removesuffix("Receiver")
                        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
                        lines = preview(payload)
                        print(f"\n── {stamp} {service} got: {lines[0]}")
                        for line in lines[1:]:
                            print(f"   {line}")
                        sys.stdout.flush()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
