"""Whatever the platform hands the handler, it answers with a v1 result and never raises."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import handler
from tests.support import DEMO_POOL, PlatformContext

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "pool_id",
        "job_id",
        "listener_id",
        "region",
        "project_id",
        "targets",
        "record",
        "records",
        "events",
        "user_event",
        "trigger_type",
        "body",
        "isBase64Encoded",
        "httpMethod",
        "specversion",
        "data",
        "smn",
        "messages",
        "trigger_name",
    ]
)
trigger_like = st.dictionaries(field_names, json_values | st.just(DEMO_POOL) | st.just("TIMER"), max_size=6)
events = trigger_like | json_values | st.binary(max_size=64) | st.text(max_size=64)


def _check(result):
    if "statusCode" in result:
        assert result["statusCode"] in {200, 400, 502}
        result = json.loads(result["body"])
    assert result["schema"] == "elb-master-watch/v1"
    assert isinstance(result["ok"], bool)
    assert isinstance(result["notifications"], list)
    assert isinstance(result["errors"], list)
    for error in result["errors"]:
        assert {"target", "code", "status", "message", "request_id"} <= set(error)
        assert error["message"]
    json.dumps(result)  # the platform serialises it


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=events)
def test_random_events_get_a_result_never_an_exception(simulator, event):
    _check(handler.handler(event, PlatformContext(remaining_ms=5000)))
