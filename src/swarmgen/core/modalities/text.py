"""The text modality: chat or prompt completion that returns tokens with their logprobs.

A text job is sized by its prompt (four characters to a token until a tokenizer counts
them) plus ``max_tokens``. Every text job gets a secret sampling id at submission, so a
validation job replays a sampled claim's draws while looking like any other job. A
worker's output is stored as its canonical JSON and judged token for token and by
top-k logprob distance (:mod:`swarmgen.core.verification.textcheck`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from swarmgen.core.jobs import Message, Spec, TextSpec
from swarmgen.core.offerings import Kind
from swarmgen.core.outputs import Output, TextOutput
from swarmgen.core.pricing import Quote, Rates, estimate_prompt_tokens, price_text
from swarmgen.errors import FieldProblem, InvalidRequest

if TYPE_CHECKING:
    from swarmgen.core.modalities.base import Blobs, Thresholds
    from swarmgen.core.verification.failures import Comparison, Failure

TOKENS_PER_S = 10
"""Pessimistic CPU throughput in tokens per second used to size text leases."""
FINISH_REASONS = ("stop", "length")


def _text(spec: Spec) -> TextSpec:
    if not isinstance(spec, TextSpec):
        raise TypeError(f"the text modality got a {spec.kind} spec")
    return spec


def check_output(output: TextOutput, spec: TextSpec) -> None:
    """Refuse (``InvalidRequest``) an output that breaks the job's shape rules."""
    if len(output.token_ids) > spec.max_tokens:
        raise InvalidRequest(
            FieldProblem("results.text.token_ids", "more tokens than asked", spec.max_tokens)
        )
    if len(output.top_logprobs) != len(output.token_ids):
        raise InvalidRequest(
            FieldProblem("results.text.top_logprobs", "need one entry per generated token")
        )
    margins = output.margins_problem(spec.sampled)
    if margins is not None:
        raise InvalidRequest(margins)
    if output.finish_reason not in FINISH_REASONS:
        raise InvalidRequest(
            FieldProblem(
                "results.text.finish_reason", "must be stop or length", list(FINISH_REASONS)
            )
        )
    if output.finish_reason == "length" and len(output.token_ids) != spec.max_tokens:
        # Stopping early is only honest at an end token, which a validator then checks.
        raise InvalidRequest(
            FieldProblem(
                "results.text.token_ids", "ended before max_tokens without a stop", spec.max_tokens
            )
        )


def stored_output(blobs: Blobs) -> TextOutput | Failure:
    """The text output a job's stored blobs hold; a :class:`Failure` when they do not."""
    # imported here: comparing is the coordinator's work; a worker never loads it
    from swarmgen.core.verification.failures import Failure, FailureKind

    if isinstance(blobs, Failure):
        return blobs
    if len(blobs) != 1:
        return Failure(FailureKind.MALFORMED, f"{len(blobs)} text blobs")
    try:
        return TextOutput.from_canonical(json.loads(blobs[0]))
    except (KeyError, TypeError, ValueError) as exc:
        return Failure(FailureKind.MALFORMED, f"unreadable text output: {exc}")


@dataclass(frozen=True)
class TextModality:
    """Rules of text jobs."""

    kind: Kind = Kind.TEXT
    calibration: str = "swarmgen.tools.calibration:calibrate_text"
    identical_outputs_agree: bool = False

    def spec_from_wire(self, fields: Mapping[str, Any], seed: int | None) -> Spec:
        messages = tuple(Message(m["role"], m["content"]) for m in fields.get("messages") or ())
        return TextSpec(
            messages=messages,
            prompt=fields.get("prompt"),
            max_tokens=fields["max_tokens"],
            temperature=fields["temperature"],
            top_p=fields["top_p"],
            seed=seed,
        )

    def model_problem(self, spec: Spec, offering: str, max_pixels: int) -> FieldProblem | None:
        _text(spec)
        return None

    def pixels(self, spec: Spec) -> int:
        _text(spec)
        return 0

    def needs_sampling_id(self, spec: Spec) -> bool:
        return True

    def quote(
        self, spec: Spec, multiplier_ppm: int, rates: Rates, prompt_tokens: int | None
    ) -> Quote:
        text = _text(spec)
        tokens = estimate_prompt_tokens(text) if prompt_tokens is None else prompt_tokens
        price = price_text(tokens, text.max_tokens, multiplier_ppm, rates)
        return Quote(price, tokens + text.max_tokens, multiplier_ppm)

    def expected_run_s(self, spec: Spec) -> float:
        return _text(spec).work_units() / TOKENS_PER_S

    def decode_output(
        self, spec: Spec, images: Sequence[str] | None, text: Mapping[str, Any] | None
    ) -> Output:
        job = _text(spec)
        if text is None:
            raise InvalidRequest(FieldProblem("results.text", "a text job needs a text output"))
        try:
            output = TextOutput.from_canonical(dict(text))
        except (KeyError, TypeError, ValueError):
            raise InvalidRequest(FieldProblem("results.text", "malformed text output")) from None
        check_output(output, job)
        return output

    def encode_output(self, output: Output) -> dict[str, Any]:
        if not isinstance(output, TextOutput):
            raise TypeError("the text modality sends text outputs only")
        return {"text": output.canonical()}

    def output_blobs(self, output: Output) -> list[bytes]:
        if not isinstance(output, TextOutput):
            raise TypeError("the text modality stores text outputs only")
        return [json.dumps(output.canonical(), sort_keys=True).encode("utf-8")]

    def output_count(self, stored: int, completed: bool) -> int:
        return int(completed)

    def result(
        self, blobs: Callable[[int], bytes], stored: int, index: int, fmt: str
    ) -> tuple[bytes, str]:
        data = blobs(0)
        if fmt == "json":
            return data, "application/json"
        return json.loads(data)["text"].encode("utf-8"), "text/plain; charset=utf-8"

    def stored_result(self, stored: int, index: int, fmt: str) -> tuple[int, str] | None:
        return (0, "application/json") if fmt == "json" else None

    def thresholds(self, stored: Mapping[str, Any]) -> Thresholds:
        from swarmgen.core.verification.textcheck import TextThresholds

        return TextThresholds.from_mapping(stored)

    def compare(
        self, spec: Spec, claimed: Blobs, reference: Blobs, thresholds: Thresholds
    ) -> Comparison:
        from swarmgen.core.verification.textcheck import TextThresholds, check_text

        assert isinstance(thresholds, TextThresholds)
        return check_text(
            stored_output(claimed), stored_output(reference), _text(spec).sampled, thresholds
        )


TEXT = TextModality()
