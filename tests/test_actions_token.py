"""The signed action token: made with the key only, bound to its claims, good until it expires. Pure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handler.actions.request import read_request
from handler.actions.token import (
    Claims,
    Refused,
    expiry,
    form_value,
    form_value_ok,
    sign,
    token_id,
    verify,
)

KEY = b"k" * 32
CLAIMS = Claims("silence_1h", "5408d300053a714a", 3, 1_800_086_400)
NOW = 1_800_000_000.0


def test_a_signed_token_verifies_to_its_claims():
    token = sign(CLAIMS, KEY)
    assert verify(token, KEY, NOW) == CLAIMS
    assert len(token) < 120  # four of them fit in a chat message


def test_another_key_or_any_changed_character_is_forged():
    token = sign(CLAIMS, KEY)
    assert verify(token, b"x" * 32, NOW) == Refused("forged")
    for position in range(len(token)):
        if token[position] == ".":
            continue
        swapped = "A" if token[position] != "A" else "B"
        changed = token[:position] + swapped + token[position + 1 :]
        assert isinstance(verify(changed, KEY, NOW), Refused), position


@pytest.mark.parametrize("token", ["", ".", "a.b.c", "%%%.x", "x" * 500, "../../etc.x", "YQ.YQ"])
def test_malformed_tokens_are_forged_never_an_exception(token):
    assert verify(token, KEY, NOW) == Refused("forged")


def test_a_token_expires_at_its_expiry():
    token = sign(CLAIMS, KEY)
    assert verify(token, KEY, CLAIMS.expires_at - 1) == CLAIMS
    assert verify(token, KEY, CLAIMS.expires_at) == Refused("expired", CLAIMS)
    assert expiry(NOW) == NOW + 24 * 3600


def test_a_token_names_only_known_actions_and_plain_fingerprints():
    with pytest.raises(ValueError, match="not an action token"):
        sign(Claims("delete_everything", "fp", 1, 1), KEY)
    with pytest.raises(ValueError, match="not an action token"):
        sign(Claims("ack", "fp|with|bars", 1, 1), KEY)


def test_the_forms_value_is_bound_to_its_token():
    token, other = (
        sign(CLAIMS, KEY),
        sign(Claims("silence_4h", CLAIMS.fingerprint, 3, CLAIMS.expires_at), KEY),
    )
    value = form_value(token, KEY)
    assert form_value_ok(token, KEY, value)
    assert not form_value_ok(other, KEY, value)
    assert not form_value_ok(token, KEY, "")
    assert token_id(token) != token_id(other)
    assert token not in token_id(token)


@given(st.text(max_size=300))
def test_any_text_as_a_token_is_refused_or_verified_never_raised(text):
    assert isinstance(verify(text, KEY, NOW), Refused | Claims)


@given(
    st.dictionaries(
        st.sampled_from(["httpMethod", "path", "headers", "body", "isBase64Encoded", "requestContext"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.text(max_size=50),
            st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3),
        ),
    )
)
def test_any_apig_event_reads_as_a_request_never_raised(event):
    request = read_request(event)
    assert isinstance(request.token, str)
    assert request.source
