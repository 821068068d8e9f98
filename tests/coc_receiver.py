"""A loopback COC custom-alarm intake: `POST /v1/event/huawei/custom/{integration_key}`.

It checks what COC checks: the SDK-HMAC-SHA256 signature of one of its key pairs (a bad one gets 401
APIGW.0301, as from the API gateway), the integration key in the path (an unknown one: 404), and the
body against CreateReportCustomEvent's reference: every mandatory field present, alarmLevel and
alarmStatus from their enums, time in epoch milliseconds, the 255-character limits, alarmId of
letters and digits. An accepted event is kept in `accepted` and answered
`{"provider_code", "error_code": "0", "error_msg"}`; a refused body gets 400 COC.00040001.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from elb_simulator.signature import verify_request
from tests.receivers import Received, Receiver, Reply

PATH_PREFIX = "/v1/event/huawei/custom/"
MANDATORY = (
    "alarmId",
    "alarmName",
    "alarmLevel",
    "time",
    "nameSpace",
    "applicationId",
    "alarmDesc",
    "alarmSource",
)
LIMITED = ("alarmId", "alarmName", "alarmDesc", "URL", "nameSpace", "applicationId", "resourceId")
LEVELS = frozenset({"Critical", "Major", "Minor", "Info"})
STATUSES = frozenset({"alarm", "ok"})
# 2001-09-09 in epoch milliseconds: a `time` below it was sent in seconds.
MIN_MS = 1_000_000_000_000


def body_problem(body: Any) -> str | None:
    """What COC would refuse in an event body, or None."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    missing = [name for name in MANDATORY if body.get(name) in (None, "")]
    if missing:
        return f"missing mandatory {', '.join(missing)}"
    if body["alarmLevel"] not in LEVELS:
        return f"alarmLevel {body['alarmLevel']!r} is not one of {sorted(LEVELS)}"
    if "alarmStatus" in body and body["alarmStatus"] not in STATUSES:
        return f"alarmStatus {body['alarmStatus']!r} is not alarm or ok"
    if not isinstance(body["time"], int) or body["time"] < MIN_MS:
        return "time must be epoch milliseconds"
    too_long = [name for name in LIMITED if isinstance(body.get(name), str) and len(body[name]) > 255]
    if too_long:
        return f"over 255 characters: {', '.join(too_long)}"
    if not re.fullmatch(r"[0-9A-Za-z]{1,255}", str(body["alarmId"])):
        return "alarmId must be letters and digits"
    if "additional" in body and not isinstance(body["additional"], dict):
        return "additional must be an object"
    return None


class CocReceiver(Receiver):
    """COC's intake for one integration key, reachable with one key pair."""

    def __init__(
        self,
        *,
        ak: str = "COCTESTACCESSKEY0001",
        sk: str = "coc-test-secret-key-0123456789abcdef",
        integration_key: str = "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        region: str = "cn-north-4",
    ) -> None:
        """An integration in COC's region `region`."""
        super().__init__()
        self.ak, self.sk = ak, sk
        self.integration_key = integration_key
        self.region = region
        self.project_ids: list[str] = []

    def env(self) -> dict[str, str]:
        """The SDK's endpoint override that points CocClient at this receiver."""
        return {f"HUAWEICLOUD_SDK_REGION_COC_{self.region.replace('-', '_').upper()}": self.base}

    @staticmethod
    def _error(status: int, code: str, message: str) -> Reply:
        request_id = uuid.uuid4().hex
        body = {"error_code": code, "error_msg": message, "request_id": request_id}
        return Reply(status, body, {"X-Request-Id": request_id})

    def answer(self, request: Received) -> Reply:
        """Answer like COC: 200 with error_code 0, or the gateway's or the intake's error."""
        rejection = verify_request(
            method=request.method,
            target=request.target,
            headers=request.headers,
            body=request.body,
            credentials=[{"ak": self.ak, "sk": self.sk}],
            now=datetime.now(timezone.utc),
        )
        if rejection is not None:
            return self._error(401, "APIGW.0301", rejection)
        path = unquote(request.path)
        if not path.startswith(PATH_PREFIX) or path[len(PATH_PREFIX) :] != self.integration_key:
            return self._error(404, "COC.00040404", "The integration does not exist.")
        problem = body_problem(request.json())
        if problem is not None:
            return self._error(400, "COC.00040001", problem)
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.project_ids.append(headers.get("x-project-id", ""))
        self.accepted.append(request.json())
        return Reply(200, {"provider_code": "042", "error_code": "0", "error_msg": "success"})
