from __future__ import annotations

import json
from enum import StrEnum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.canonical import NotCanonical, _check, _plain, canonical_json, digest

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


loose_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text() | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(loose_values)
def test_the_quick_walk_accepts_and_refuses_what_the_recursive_check_does(value: object) -> None:
    try:
        _check(value)
    except NotCanonical:
        assert not _plain(value)
        with pytest.raises(NotCanonical):
            canonical_json(value)
    else:
        assert _plain(value)
        assert json.loads(canonical_json(value)) == json.loads(json.dumps(value, sort_keys=True))


def test_subclasses_of_plain_types_take_the_recursive_check() -> None:
    class Name(StrEnum):
        A = "a"

    assert not _plain({"k": Name.A})
    assert canonical_json({"k": Name.A, "n": (1, True)}) == b'{"k":"a","n":[1,true]}'


def test_a_cycle_is_refused_not_walked_for_ever() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(RecursionError):
        canonical_json(cycle)


def _standard(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


edge_text = st.text() | st.sampled_from(["\x00\x1f\x7f", '"\\/', "\u2028\u2029", "\U0001f600é"])
edge_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1, 10**40])
    | edge_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(edge_text, inner, max_size=4),
    max_leaves=20,
)


@given(edge_values)
def test_the_bytes_are_the_standard_librarys_to_the_byte(value: object) -> None:
    # Digests already signed and chained were made with the standard library's encoder:
    # the fast encoder must not change one byte, including for integers past 64 bits.
    assert canonical_json(value) == _standard(value)


def test_what_the_fast_encoder_refuses_is_encoded_or_refused_as_before() -> None:
    deep: object = 1
    for _ in range(300):
        deep = [deep]
    assert canonical_json(deep) == _standard(deep)
    with pytest.raises(UnicodeEncodeError):
        canonical_json({"s": "\ud800"})
