from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.canonical import NotCanonical, canonical_json, digest

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_round_trips_and_ignores_key_order(value: object) -> None:
    encoded = canonical_json(value)
    assert json.loads(encoded) == value
    if isinstance(value, dict):
        assert canonical_json(dict(reversed(list(value.items())))) == encoded


def test_is_compact_sorted_utf8() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


@pytest.mark.parametrize("value", [1.5, {"x": [0.1]}, {1: "a"}, {"s": {1, 2}}])
def test_refuses_what_cannot_be_signed(value: object) -> None:
    with pytest.raises(NotCanonical):
        canonical_json(value)


def test_digest_changes_with_any_field() -> None:
    assert digest({"a": 1}) != digest({"a": 2})
    assert len(digest({})) == 64
