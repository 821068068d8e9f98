"""The routing file (issue 21): every rule of its keys, how a record is routed, who gets what."""

from __future__ import annotations

import json

import pytest

from handler.channels.config import Channel, Mention
from handler.events import MAX_SWEEPS, known_channels, parse_event
from handler.lifecycle import AlertState, Delivery
from handler.receivers import Receivers, audience, widen
from handler.routes import RoutesError, fields_of, parse, route, runbook_link
from handler.routing_file import MAX_BYTES, MAX_NODES, load

ENV = {
    "PAY_FEISHU_URL": "https://open.feishu.cn/open-apis/bot/v2/hook/pay-token-0001",
    "PAY_FEISHU_SECRET": "pay-secret-0001",
    "SEARCH_DING_URL": "https://oapi.dingtalk.com/robot/send?access_token=search-token-0001",
    "SEARCH_DING_SECRET": "search-secret-0001",
}
LB = "6b2d5a2c-0000-4000-8000-00000000000a"
DOCUMENT = {
    "receivers": [
        {
            "name": "payments-feishu",
            "feishu": {"webhook": "${PAY_FEISHU_URL}", "secret": "${PAY_FEISHU_SECRET}"},
            "mention": {"user_ids": ["ou_7d8a6e6df7621556ce0d21922b676706"]},
        },
        {
            "name": "search-dingtalk",
            "dingtalk": {"webhook": "${SEARCH_DING_URL}", "secret": "${SEARCH_DING_SECRET}"},
            "mention": {"mobiles": ["13800000000"]},
        },
        {"name": "ops-email", "smn": {"topic_urn": "urn:smn:cn-north-4:0123456789abcdef:elb-ops"}},
    ],
    "routes": [
        {
            "match": {"pool_name": "pay-*"},
            "receivers": ["payments-feishu"],
            "runbook_url": "https://wiki.example.com/runbooks/elb?pool={pool_id}&name={pool_name}",
        },
        {
            "match": {"loadbalancer_id": [LB], "severity": ["critical"]},
            "receivers": ["search-dingtalk"],
            "continue": True,
        },
        {"match": {"tag": {"team": "search"}}, "receivers": ["search-dingtalk"]},
    ],
    "default_receivers": ["ops-email"],
    "watcher_receivers": ["ops-email"],
}


def record(name: str = "pay-api", *, lb: str = "lb-1", severity: str = "critical", **extra: object) -> dict:
    return {
        "kind": "master_failed",
        "severity": severity,
        "status": "firing",
        "fingerprint": f"fp-{name}",
        "region": "cn-north-4",
        "project_id": "0123456789abcdef",
        "pool": {"id": f"pool-{name}", "name": name, "listener_ids": ["lsn-1"], "loadbalancer_ids": [lb]},
        **extra,
    }


def problems(document: object, env: dict | None = None, known: tuple[Channel, ...] = ()) -> list[str]:
    with pytest.raises(RoutesError) as caught:
        parse(document, env if env is not None else ENV, known)
    return list(caught.value.problems)


# --- parsing ---------------------------------------------------------------------------------------


def test_the_issue_example_parses_with_secrets_from_the_environment():
    config = parse(DOCUMENT, ENV)
    feishu, ding, smn = config.receivers
    assert (feishu.name, feishu.type, feishu.url, feishu.secret) == (
        "payments-feishu",
        "feishu",
        ENV["PAY_FEISHU_URL"],
        "pay-secret-0001",
    )
    assert feishu.mention == Mention(user_ids=("ou_7d8a6e6df7621556ce0d21922b676706",))
    assert ding.mention == Mention(mobiles=("13800000000",))
    assert not smn.mention
    assert smn.topic_urn.endswith(":elb-ops")
    assert [r.place for r in config.routes] == ["routes[0]", "routes[1]", "routes[2]"]
    assert config.routes[1].proceed
    assert not config.routes[0].proceed
    assert config.uses_tags
    assert config.default_receivers == ("ops-email",)
    assert config.watcher_receivers == ("ops-email",)


def test_an_unset_variable_is_a_problem_that_names_it_and_its_place():
    found = problems(DOCUMENT, {k: v for k, v in ENV.items() if k != "SEARCH_DING_SECRET"})
    assert found == ["receivers[1].dingtalk.secret: ${SEARCH_DING_SECRET} is not set in the environment"]


def test_nothing_but_dollar_brace_names_is_expanded():
    document = {"receivers": [{"name": "w", "webhook": {"url": "https://h.example.com/$HOME/{x}/${ENV_A}"}}]}
    (receiver,) = parse(document, {"ENV_A": "a1"}).receivers
    assert receiver.url == "https://h.example.com/$HOME/{x}/a1"


def test_every_problem_is_reported_at_once_with_its_place():
    document = {
        "receivers": [
            {"name": "Bad Name", "slack": {"webhook": "https://hooks.slack.com/x"}},
            {"name": "two", "slack": {"webhook": "https://a"}, "teams": {"webhook": "https://b"}},
            {"name": "none"},
            {"name": "plain", "wecom": {"webhook": "http://example.com/hook"}},
            {"name": "urn", "smn": {"topic_urn": "not-a-urn"}},
            {"name": "dup", "slack": {"webhook": "https://hooks.slack.com/1"}},
            {"name": "dup", "slack": {"webhook": "https://hooks.slack.com/2"}},
        ],
        "routes": [
            {"match": {"severity": "fatal", "colour": "red"}, "receivers": ["nobody"]},
            {"match": {}, "receivers": [], "continue": "yes", "runbook_url": "http://wiki/x"},
        ],
        "default_receivers": ["ghost"],
        "extra": 1,
    }
    found = problems(document)
    places = [problem.split(":")[0] for problem in found]
    assert "extra" in places
    assert "receivers[0].name" in places
    assert any(
        "receiver 'two' must have exactly one channel key" in p and "2 (slack, teams)" in p for p in found
    )
    assert any("receiver 'none' must have exactly one channel key" in p for p in found)
    assert any(p.startswith("receivers[3].wecom.webhook must be an https:// URL") for p in found)
    assert "receivers[4].smn.topic_urn" in places
    assert any(p.startswith("receivers[6].name: 'dup' is already the name of receivers[5]") for p in found)
    assert "routes[0].match.severity" in places
    assert "routes[0].match.colour" in places
    assert any(p.startswith("routes[0].receivers: names unknown receiver 'nobody'") for p in found)
    assert "routes[1].receivers" in places
    assert "routes[1].continue" in places
    assert "routes[1].runbook_url" in places
    assert any(p.startswith("default_receivers: names unknown receiver 'ghost'") for p in found)


def test_a_problem_never_echoes_a_secret_value():
    document = {
        "receivers": [{"name": "s", "slack": {"webhook": "ftp://hooks.slack.com/T0/B0/very-secret-token"}}]
    }
    text = " ".join(problems(document))
    assert "very-secret-token" not in text
    document = {"receivers": [{"name": "s", "slack": {"webhook": 12345678901234}}]}
    assert "12345678901234" not in " ".join(problems(document))


def test_a_file_receiver_cannot_take_an_environment_channels_name_but_routes_may_name_it():
    env_feishu = Channel("feishu", url="https://open.feishu.cn/open-apis/bot/v2/hook/env")
    found = problems(
        {"receivers": [{"name": "feishu", "slack": {"webhook": "https://hooks.slack.com/x"}}]},
        known=(env_feishu,),
    )
    assert found == ["receivers[0].name: 'feishu' is already the name of an ELB_WATCH_* channel"]
    config = parse({"routes": [{"match": {"pool_name": "*"}, "receivers": ["feishu"]}]}, {}, (env_feishu,))
    assert config.routes[0].receivers == ("feishu",)


def test_a_broken_file_keeps_its_well_formed_receivers():
    document = {"receivers": [DOCUMENT["receivers"][2], {"name": "x"}], "routes": "all"}
    with pytest.raises(RoutesError) as caught:
        parse(document, ENV)
    assert [r.name for r in caught.value.receivers] == ["ops-email"]


def test_mentions_are_checked_and_all_only_when_written():
    document = {
        "receivers": [
            {
                "name": "d",
                "dingtalk": {"webhook": "https://oapi.dingtalk.com/robot/send?access_token=t0000000"},
                "mention": {"mobiles": ["13800000000", "<at all>"], "user_ids": ["u 1"], "all": "yes"},
            }
        ]
    }
    found = problems(document)
    assert "receivers[0].mention.mobiles[1]: is not a valid mobile" in found
    assert "receivers[0].mention.user_ids[0]: is not a valid user id" in found
    assert "receivers[0].mention.all: must be true or false, got a string" in found
    document["receivers"][0]["mention"] = {"mobiles": ["13800000000"]}
    assert parse(document, {}).receivers[0].mention.all is False


# --- loading ---------------------------------------------------------------------------------------


def test_inline_json_yaml_and_json_files_and_relative_paths(tmp_path):
    inline = load(json.dumps(DOCUMENT), ENV)
    yaml_file = tmp_path / "routes.yaml"
    yaml_file.write_text(
        "receivers:\n"
        "  - name: ops-email\n"
        "    smn: {topic_urn: 'urn:smn:cn-north-4:0123456789abcdef:elb-ops'}\n"
        "routes:\n"
        "  - match: {pool_name: 'pay-*'}\n"
        "    receivers: [ops-email]\n",
        encoding="utf-8",
    )
    (tmp_path / "routes.json").write_text(json.dumps(DOCUMENT), encoding="utf-8")
    env = {**ENV, "RUNTIME_CODE_ROOT": str(tmp_path)}
    assert load("routes.yaml", env).receivers[0].name == "ops-email"
    assert load(str(yaml_file), env).routes[0].receivers == ("ops-email",)
    assert load("routes.json", env).routes == inline.routes
    assert load("routes.json", env).receivers == inline.receivers


def test_the_file_is_parsed_once_per_version(tmp_path):
    path = tmp_path / "routes.json"
    path.write_text(json.dumps(DOCUMENT), encoding="utf-8")
    first = load(str(path), ENV)
    assert load(str(path), ENV) is first
    assert load(str(path), {**ENV, "PAY_FEISHU_SECRET": "rotated-secret"}) is not first


# A "billion laughs": six levels of nine aliases each, 531441 values from a few hundred bytes.
LAUGHS = "a: &a [1,2,3,4,5,6,7,8,9]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n" for prev, name in zip("abcde", "bcdef", strict=True)
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("receivers: [\n", "is not valid YAML at line"),
        ("{not json", "is not valid JSON"),
        (LAUGHS, f"has more than {MAX_NODES} values"),
        ("[" * 40 + "]" * 40, "nested deeper than"),
        ("!!python/object:os.system {}", "is not valid YAML"),
    ],
)
def test_hostile_files_are_refused_with_a_reason(tmp_path, text, expected):
    path = tmp_path / ("routes.json" if text.startswith("{") else "routes.yaml")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RoutesError) as caught:
        load(str(path), {})
    assert expected in str(caught.value)


def test_a_missing_or_huge_file_is_refused(tmp_path):
    with pytest.raises(RoutesError, match="cannot be read"):
        load(str(tmp_path / "nope.yaml"), {})
    big = tmp_path / "big.json"
    big.write_text(" " * (MAX_BYTES + 1), encoding="utf-8")
    with pytest.raises(RoutesError, match="bytes; at most"):
        load(str(big), {})


# --- routing ---------------------------------------------------------------------------------------


def test_first_match_wins_unless_continue_and_the_runbook_is_filled_in_encoded():
    config = parse(DOCUMENT, ENV)
    paid = route(config, record("pay-api"))
    assert paid.receivers == ("payments-feishu",)
    assert paid.matched == ("routes[0]",)
    assert paid.runbook_url == "https://wiki.example.com/runbooks/elb?pool=pool-pay-api&name=pay-api"
    # routes[1] continues into routes[2] (the tag), which names the same receiver once.
    both = route(config, record("search-api", lb=LB), [{"team": "search"}])
    assert both.receivers == ("search-dingtalk",)
    assert both.matched == ("routes[1]", "routes[2]")
    assert route(config, record("search-api", lb=LB, severity="major")).receivers == ("ops-email",)
    assert route(config, record("other", lb="lb-x"), [{"team": "search"}]).matched == ("routes[2]",)
    nothing = route(config, record("other"))
    assert (nothing.receivers, nothing.matched) == (("ops-email",), ())


def test_without_default_receivers_what_no_route_matched_goes_to_the_environment_channels():
    config = parse(
        {"routes": [{"match": {"pool_name": "pay-*"}, "receivers": ["feishu"]}]}, {}, (Channel("feishu"),)
    )
    assert route(config, record("web"), default=("feishu", "slack")).receivers == ("feishu", "slack")


@pytest.mark.parametrize(
    ("match", "hit", "miss"),
    [
        ({"pool_id": ["pool-a", "pool-b"]}, record("b"), record("c")),
        ({"listener_id": "lsn-1"}, record("a"), record("a", pool={"id": "p", "listener_ids": ["lsn-2"]})),
        (
            {"enterprise_project_id": "eps-1"},
            record("a", pool={"id": "p", "enterprise_project_id": "eps-1"}),
            record("a"),
        ),
        ({"region": "cn-north-4"}, record("a"), record("a", region="ap-southeast-1")),
        ({"project_id": "0123456789abcdef"}, record("a"), record("a", project_id="ffff")),
        ({"kind": "master_failed"}, record("a"), record("a", kind="failover_incomplete")),
        ({"pool_name": "pay-[ab]*"}, record("pay-api"), record("pay-cms")),
        ({"pool_name": "Pay-*"}, record("Pay-x"), record("pay-x")),
    ],
)
def test_each_match_key(match, hit, miss):
    config = parse(
        {"receivers": [DOCUMENT["receivers"][2]], "routes": [{"match": match, "receivers": ["ops-email"]}]},
        {},
    )
    assert route(config, hit).matched == ("routes[0]",)
    assert route(config, miss).matched == ()


def test_tags_match_by_value_or_glob_on_any_of_the_pools_load_balancers():
    config = parse(
        {
            "receivers": [DOCUMENT["receivers"][2]],
            "routes": [{"match": {"tag": {"team": "se*", "env": "prod"}}, "receivers": ["ops-email"]}],
        },
        {},
    )
    assert route(config, record("a"), [{"team": "search", "env": "prod"}]).matched == ("routes[0]",)
    assert route(config, record("a"), [{"team": "search"}, {"env": "prod"}]).matched == ()
    assert route(config, record("a"), [{}, {"team": "seo", "env": "prod"}]).matched == ("routes[0]",)
    assert route(config, record("a")).matched == (), "tags that could not be read match nothing"


def test_a_runbook_placeholder_cannot_inject_into_the_url():
    link = runbook_link(
        "https://wiki.example.com/{pool_name}?lb={loadbalancer_id}&r={region}&x={other}",
        fields_of(record("a/b?c=d&e")),
    )
    assert link == "https://wiki.example.com/a%2Fb%3Fc%3Dd%26e?lb=lb-1&r=cn-north-4&x={other}"


def test_fields_of_reads_a_record_defensively():
    assert fields_of({"pool": "nonsense", "check": 3, "region": 5})["pool_name"] == ()
    assert fields_of(record("a", check={"listener_id": "lsn-9"}))["listener_id"] == ("lsn-1", "lsn-9")


# --- who gets a notification ---------------------------------------------------------------------


def receivers_with_routes() -> Receivers:
    config = parse(DOCUMENT, ENV, (Channel("slack", url="https://hooks.slack.com/env"),))
    return Receivers((Channel("slack", url="https://hooks.slack.com/env"), *config.receivers), (), config)


def test_without_routes_everybody_gets_everything():
    to = audience(Receivers((Channel("feishu"), Channel("slack"))))
    assert to(record("a"), {}) == ("feishu", "slack")
    assert to({"kind": "watcher_error"}, {}) == ("feishu", "slack")


def test_with_routes_findings_follow_their_route_and_watcher_errors_the_watcher_receivers():
    to = audience(receivers_with_routes())
    assert to(record("a", route={"receivers": ["payments-feishu", "gone"]}), {}) == ("payments-feishu",)
    assert to(record("a"), {}) == ("ops-email",), "no route block: the default receivers"
    assert to({"kind": "watcher_error", "status": "firing"}, {}) == ("ops-email",)


def test_a_resolved_notice_goes_to_who_had_the_firing_one_even_when_routes_changed():
    to = audience(receivers_with_routes())
    resolved = record("a", status="resolved", route={"receivers": ["ops-email"]})
    ledger = {
        "payments-feishu": Delivery("k", "sent", 1.0, 1),
        "removed-receiver": Delivery("k", "sent", 1.0, 1),
    }
    assert to(resolved, ledger) == ("payments-feishu",)
    assert to(resolved, {}) == ("ops-email",), "no ledger (sent without state): its route"


def test_an_event_narrows_by_receiver_name_or_channel_type():
    channels = receivers_with_routes().channels
    assert widen(["payments-feishu"], channels) == ("payments-feishu",)
    assert widen(["dingtalk", "slack"], channels) == ("slack", "search-dingtalk")


def test_the_audience_is_what_the_lifecycle_uses_for_a_state():
    state = AlertState(
        fingerprint="fp",
        scope="s",
        state="firing",
        first_seen=0,
        last_seen=0,
        reason_digest="m",
        record=record("a"),
    )
    assert audience(receivers_with_routes())(state.record, state.deliveries) == ("ops-email",)


# --- many scopes from one deployment --------------------------------------------------------------


def test_an_event_carries_several_sweeps_each_with_its_own_region_and_project():
    parsed = parse_event(
        {
            "sweeps": [
                {"region": "cn-north-4", "project_id": "aaaa1111", "sweep": {}},
                {
                    "region": "ap-southeast-1",
                    "project_id": "bbbb2222",
                    "sweep": {"name": "pay-api"},
                    "channels": ["ops"],
                },
            ]
        }
    )
    assert parsed.errors == ()
    assert [(s.region, s.project_id, s.names, s.channels) for s in parsed.sweeps] == [
        ("cn-north-4", "aaaa1111", (), None),
        ("ap-southeast-1", "bbbb2222", ("pay-api",), ("ops",)),
    ]
    too_many = parse_event(
        {"sweeps": [{"sweep": {}, "project_id": f"p{i:07d}"} for i in range(MAX_SWEEPS + 1)]}
    )
    assert too_many.sweeps == ()
    assert [(e.where, e.message) for e in too_many.errors] == [
        ("sweeps", f"has {MAX_SWEEPS + 1} entries; at most {MAX_SWEEPS} per event")
    ]
    broken = parse_event({"sweeps": [{"region": "cn-north-4"}, {"sweep": {"colour": "red"}}, {"sweep": {}}]})
    assert [e.where for e in broken.errors] == ["sweeps[0]", "sweeps[1].sweep"]
    assert len(broken.sweeps) == 1


def test_an_event_naming_an_unknown_receiver_is_an_error_for_that_target_only():
    parsed = parse_event(
        {
            "targets": [
                {"pool_id": "p1", "channels": ["ops-emial"]},
                {"pool_id": "p2", "channels": ["ops-email"]},
            ]
        }
    )
    checked = known_channels(parsed, {"ops-email", "feishu"})
    assert [t.pool_id for t in checked.targets] == ["p2"]
    assert checked.errors[-1].message.startswith(
        "names unknown receiver(s) ['ops-emial']; known here: feishu, ops-email"
    )


# ---- the compiled copy of a YAML routing file (what `package --include` ships beside it) --------------

COPY_YAML = "receivers:\n  - name: ops\n    webhook: {url: https://hooks.example.com/ops}\nroutes: []\n"


def _with_copy(tmp_path, document_change=None, **body_change):
    from handler.routing_file import compile_yaml, compiled_path  # noqa: PLC0415

    path = tmp_path / "routes.yaml"
    path.write_text(COPY_YAML, encoding="utf-8")
    body = json.loads(compile_yaml(COPY_YAML))
    if document_change:
        body["document"]["receivers"][0]["name"] = document_change
    body.update(body_change)
    compiled_path(path).write_text(json.dumps(body), encoding="utf-8")
    return path


def test_a_compiled_copy_of_the_same_text_is_read_instead_of_the_yaml(tmp_path):
    path = _with_copy(tmp_path, document_change="from-the-copy")
    assert [c.name for c in load(str(path), {}).receivers] == ["from-the-copy"]


def test_a_compiled_copy_of_another_text_is_ignored_so_an_edited_file_wins(tmp_path):
    path = _with_copy(tmp_path, document_change="from-the-copy")
    path.write_text(COPY_YAML.replace("name: ops", "name: edited"), encoding="utf-8")
    assert [c.name for c in load(str(path), {}).receivers] == ["edited"]


@pytest.mark.parametrize("change", [{"format": "something-else"}, {"source_sha256": "0" * 64}])
def test_a_compiled_copy_of_another_format_or_hash_is_ignored(tmp_path, change):
    path = _with_copy(tmp_path, document_change="from-the-copy", **change)
    assert [c.name for c in load(str(path), {}).receivers] == ["ops"]


def test_a_corrupt_compiled_copy_is_ignored(tmp_path):
    from handler.routing_file import compiled_path  # noqa: PLC0415

    path = _with_copy(tmp_path, document_change="from-the-copy")
    compiled_path(path).write_text('{"format": ', encoding="utf-8")
    assert [c.name for c in load(str(path), {}).receivers] == ["ops"]


def test_a_compiled_copy_is_still_checked_like_the_file(tmp_path):
    from handler.routing_file import compile_yaml, compiled_path  # noqa: PLC0415

    path = tmp_path / "routes.yaml"
    path.write_text(COPY_YAML, encoding="utf-8")
    body = json.loads(compile_yaml(COPY_YAML))
    body["document"]["receivers"][0]["webhook"]["url"] = "${UNSET_IN_THIS_TEST}"
    compiled_path(path).write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(RoutesError, match="UNSET_IN_THIS_TEST"):
        load(str(path), {})


# ---- globs: literals and `literal*` are tested without a regular expression, with fnmatch's answers ----

GLOB_CASES = [
    (("pay-*",), ["pay-api", "pay-", "pay", "xpay-api", "pay-\napi", "PAY-api"]),
    (("web", "pay-*"), ["web", "web2", "pay-db", "we"]),
    (("*",), ["", "anything"]),
    (("pay-?",), ["pay-a", "pay-ab"]),
    (("[ab]*",), ["api", "bob", "cat"]),
    (("pay-*", "we?"), ["pay-1", "wet", "west"]),
    (("a*b*",), ["ab", "axxb", "ba"]),
]


@pytest.mark.parametrize(("patterns", "values"), GLOB_CASES)
def test_glob_tests_answer_as_fnmatch_does(patterns, values):
    import fnmatch  # noqa: PLC0415

    from handler.routes import _glob  # noqa: PLC0415

    test = _glob(patterns)
    for value in values:
        expected = any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)
        assert bool(test.match(value)) is expected, (patterns, value)


def test_plain_globs_need_no_regular_expression():
    import re  # noqa: PLC0415

    from handler.routes import _glob  # noqa: PLC0415

    assert not isinstance(_glob(("pay-*", "web")), re.Pattern)
    assert isinstance(_glob(("pay-?",)), re.Pattern)


def test_glob_tests_agree_with_fnmatch_on_generated_patterns():
    import fnmatch  # noqa: PLC0415

    from hypothesis import given, settings  # noqa: PLC0415
    from hypothesis import strategies as st  # noqa: PLC0415

    from handler.routes import _glob  # noqa: PLC0415

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.text("ab*?-", max_size=5), min_size=1, max_size=3), st.text("ab-\n", max_size=6))
    def agree(patterns, value):
        expected = any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)
        assert bool(_glob(tuple(patterns)).match(value)) is expected

    agree()
