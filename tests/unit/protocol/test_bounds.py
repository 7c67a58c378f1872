"""Every integer a client can send is bounded, so none can reach the store as a 500."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from swarmgen import protocol
from swarmgen.protocol import INT64_MAX, GrantIn, ReceiptIn, ResultIn, TransferIn, workers

REQUESTS = [
    model
    for model in vars(protocol).values()
    if isinstance(model, type)
    and issubclass(model, BaseModel)
    and model.model_config.get("extra") == "forbid"
]


def integers(schema: Any, defs: dict[str, Any], where: str = "") -> list[tuple[str, Any]]:
    """Every integer sub-schema of ``schema``, with where it sits."""
    if isinstance(schema, list):
        return [i for n, s in enumerate(schema) for i in integers(s, defs, f"{where}[{n}]")]
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        return integers(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, where)
    found = [(where, schema)] if schema.get("type") == "integer" else []
    for key, value in schema.items():
        if key not in ("$defs", "default"):
            found += integers(value, defs, f"{where}.{key}")
    return found


def test_there_are_request_models_to_check() -> None:
    assert len(REQUESTS) >= 10


@pytest.mark.parametrize("model", REQUESTS, ids=lambda m: m.__name__)
def test_every_request_integer_has_an_upper_bound(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    for where, found in integers(schema, schema.get("$defs", {})):
        bound = found.get("maximum", found.get("exclusiveMaximum"))
        assert bound is not None and bound <= INT64_MAX, f"{model.__name__}{where}"


@pytest.mark.parametrize("model", [TransferIn, GrantIn])
def test_amounts_past_the_bound_name_field_and_limit(model: type[BaseModel]) -> None:
    fields = {"to": "bob"} if model is TransferIn else {"user": "bob"}
    with pytest.raises(ValidationError) as refused:
        model.model_validate({**fields, "amount": 2**64})
    (error,) = refused.value.errors()
    assert error["loc"] == ("amount",)
    assert error["ctx"] == {"le": 2**62}


def test_receipt_timings_are_bounded() -> None:
    receipt = {
        "job_id": "j",
        "worker_id": "w",
        "input_digest": "0" * 64,
        "output_digest": "0" * 64,
        "artifact_digest": "0" * 64,
        "timings": {"run_ms": INT64_MAX + 1},
        "nonce": "n" * 8,
        "signature": "s",
    }
    with pytest.raises(ValidationError):
        ReceiptIn.model_validate(receipt)
    receipt["timings"] = {"run_ms": 5}
    assert ReceiptIn.model_validate(receipt).timings == {"run_ms": 5}


def test_text_output_integers_are_bounded() -> None:
    receipt = {
        "job_id": "j",
        "worker_id": "w",
        "input_digest": "0" * 64,
        "output_digest": "0" * 64,
        "artifact_digest": "0" * 64,
        "timings": {},
        "nonce": "n" * 8,
        "signature": "s",
    }
    text = {"text": "x", "token_ids": [1], "top_logprobs": [[[1, -(2**400)]]], "prompt_tokens": 1}
    with pytest.raises(ValidationError) as refused:
        ResultIn.model_validate({"job_id": "j", "text": text, "receipt": receipt})
    (error,) = refused.value.errors()
    assert error["loc"] == ("text",) and error["ctx"] == {"le": INT64_MAX}
    text["top_logprobs"] = [[[1, float("inf")]]]
    with pytest.raises(ValidationError):
        ResultIn.model_validate({"job_id": "j", "text": text, "receipt": receipt})
    text["top_logprobs"] = [[[1, -5]]]
    assert ResultIn.model_validate({"job_id": "j", "text": text, "receipt": receipt}).text == text


def _bounded_by_definition(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return math.isfinite(value) and -INT64_MAX <= value <= INT64_MAX
    if isinstance(value, dict):
        return all(_bounded_by_definition(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_bounded_by_definition(v) for v in value)
    return True


_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([INT64_MAX, -INT64_MAX, INT64_MAX + 1, -INT64_MAX - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
)
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.text(max_size=4), _NUMBERS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_the_bound_walk_judges_as_the_definition_does(value: Any) -> None:
    assert workers._bounded(value) is _bounded_by_definition(value)


def test_the_bound_walk_judges_subclasses_as_their_builtins() -> None:
    class Big(int):
        pass

    assert not workers._bounded({"a": [1, Big(INT64_MAX + 1)]})
    assert workers._bounded((Big(5), True, None, "x", 1.5))
    assert not workers._bounded([[[0.0, float("nan")]]])
