"""The text modality: spec, price and lease, output decoding, result formats, comparison."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from swarmgen.core.jobs import ImageSpec, Message, TextSpec
from swarmgen.core.modalities.text import TEXT, stored_output
from swarmgen.core.outputs import TextOutput
from swarmgen.core.pricing import Rates, estimate_prompt_tokens, price_text
from swarmgen.core.verification import Outcome, TextThresholds
from swarmgen.core.verification.failures import Failure, FailureKind
from swarmgen.errors import InvalidRequest

SPEC = TextSpec(messages=(Message("user", "hello there"),), max_tokens=3, seed=5)
RATES = Rates(image_per_mpixel_step=10_000, text_per_ktoken=10_000)
TOP = (((4, -0.1), (5, -2.0)),) * 3
OUTPUT = TextOutput("a b c", (4, 4, 4), TOP, prompt_tokens=7)
SHORT = replace(OUTPUT, token_ids=(4, 4), top_logprobs=TOP[:2])
"""Ends before ``max_tokens`` without a stop."""
MARGINS = replace(OUTPUT, choice_margins=(0.1, 0.1, 0.1))
"""Choice margins on a greedy job."""


def test_spec_from_wire_fields() -> None:
    fields: dict[str, Any] = {
        "kind": "text",
        "messages": [{"role": "user", "content": "hello there"}],
        "prompt": None,
        "max_tokens": 3,
        "temperature": 0.0,
        "top_p": 1.0,
    }
    spec = TEXT.spec_from_wire(fields, 5)
    assert spec == SPEC
    assert TEXT.pixels(spec) == 0 and TEXT.needs_sampling_id(spec)
    assert TEXT.model_problem(spec, "m@fp32", 1) is None


def test_quote_uses_the_tokenizer_count_when_given() -> None:
    estimated = TEXT.quote(SPEC, 1, RATES, None)
    tokens = estimate_prompt_tokens(SPEC)
    assert estimated.price == price_text(tokens, 3, 1, RATES)
    assert estimated.work_units == tokens + 3
    assert TEXT.quote(SPEC, 1, RATES, 100).work_units == 103
    assert TEXT.expected_run_s(SPEC) == SPEC.work_units() / 10


def test_outputs_round_trip_through_the_wire_and_the_store() -> None:
    wire = TEXT.encode_output(OUTPUT)
    assert TEXT.decode_output(SPEC, None, wire["text"]) == OUTPUT
    (blob,) = TEXT.output_blobs(OUTPUT)
    assert stored_output([blob]) == OUTPUT
    assert TEXT.result(lambda i: blob, 1, 0, "json") == (blob, "application/json")
    assert TEXT.result(lambda i: blob, 1, 0, "text") == (b"a b c", "text/plain; charset=utf-8")
    assert (TEXT.output_count(1, True), TEXT.output_count(0, False)) == (1, 0)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (None, "results.text"),
        ({"text": "x"}, "results.text"),
        (replace(OUTPUT, token_ids=(4, 4, 4, 4)).canonical(), "results.text.token_ids"),
        (replace(OUTPUT, top_logprobs=TOP[:2]).canonical(), "results.text.top_logprobs"),
        (replace(OUTPUT, finish_reason="tired").canonical(), "results.text.finish_reason"),
        (
            replace(OUTPUT, token_ids=(4, 4), top_logprobs=TOP[:2]).canonical(),
            "results.text.token_ids",
        ),
        (
            replace(OUTPUT, choice_margins=(0.1, 0.1, 0.1)).canonical(),
            "results.text.choice_margins",
        ),
    ],
)
def test_bad_outputs_are_refused(text: dict[str, Any] | None, field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        TEXT.decode_output(SPEC, None, text)
    assert info.value.problems[0].field == field


def test_stored_output_fails_closed() -> None:
    assert isinstance(stored_output([b"{}"]), Failure)
    assert isinstance(stored_output([b"", b""]), Failure)
    gone = Failure(FailureKind.MISSING)
    assert stored_output(gone) is gone


def test_compare_judges_token_for_token() -> None:
    thresholds = TEXT.thresholds({})
    assert isinstance(thresholds, TextThresholds)
    (blob,) = TEXT.output_blobs(OUTPUT)
    assert TEXT.compare(SPEC, [blob], [blob], thresholds).outcome is Outcome.AGREE
    other = replace(OUTPUT, token_ids=(5, 5, 5), top_logprobs=(((5, -0.1), (4, -2.0)),) * 3)
    (changed,) = TEXT.output_blobs(other)
    assert not TEXT.compare(SPEC, [blob], [changed], thresholds).passed
    assert not TEXT.compare(SPEC, Failure(FailureKind.MISSING), [blob], thresholds).passed
    assert json.loads(blob)["kind"] == "text"


def test_other_kinds_are_refused() -> None:
    with pytest.raises(TypeError):
        TEXT.pixels(ImageSpec(prompt="x"))
