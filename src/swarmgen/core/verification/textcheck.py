"""Checking a text result against a validator's blinded run of the same job.

The validator generates the job as it would any other: same prompt, settings, seed and
sampling id, so the same RNG draws (``text_sampling_seed``). Two honest runs of one
model then write the same tokens, with the same top-k logprobs up to rounding; they can
part ways only where a choice was a tie within rounding. A claim passes when:

- it equals the validator's tokens, or it departs from them at one position where the
  departure is such a tie: for a greedy job the claimed token is in the validator's
  top-k and within ``greedy_tie_margin`` nats of its most likely token; for a sampled
  job the validator's draw fell within ``sampled_tie_margin`` of the edge of its
  token's interval (``TextOutput.choice_margins``). Past a tie the two texts are
  continuations of different prefixes and are not compared;
- it is as long as the validator's run when no tie parted them (an answer cut short,
  or run on past its end, differs in length);
- and the claimed top-k logprobs are within ``max_distance`` of the validator's, and a
  sampled claim's choice margins within ``sampled_tie_margin`` of the validator's, over
  the positions both runs predicted from the same prefix.

Sampling with the job's RNG is what defeats pre-filling (a cheap model writes the text
and the real model only scores it): the cheap model's first different choice lands far
from a tie, although every logprob the cheater reports is the real model's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from swarmgen.core.outputs import TextOutput
from swarmgen.core.verification.failures import (
    Comparison,
    Failure,
    FailureKind,
    Outcome,
    gate,
)

TopK = Sequence[tuple[int, float]]
"""One position's ``(token_id, logprob)`` pairs, most likely first."""

DENOMINATOR_FLOOR = 1e-2
"""Added to the denominator of the relative logprob difference (nats).

Logprobs travel as integer millionths, so a near-certain token's logprob is a few
millionths; without a floor, rounding alone would make two such values look 50 % apart.
"""
LOGPROB_SLACK = 1e-6
"""How far above zero a logprob may be (rounding) before it is malformed."""


@dataclass(frozen=True)
class TextThresholds:
    """Per-offering limits for text checks (uncalibrated defaults until calibrated)."""

    max_distance: float = 0.05
    """Largest :func:`text_distance` between claimed and validator top-k logprobs."""
    greedy_tie_margin: float = 0.01
    """Greedy jobs: how far (nats) below the validator's top token a claimed token may be."""
    sampled_tie_margin: float = 1e-4
    """Sampled jobs: the largest validator choice margin at which a different claimed token
    is a rounding tie, and how far a claimed margin may be from the validator's. Two runs
    compute each distribution equal to about 1e-6, so an honest departure has a margin
    below that; a token not drawn by the job's sampler lands this close to an edge by
    chance only (about 2e-4 per position)."""
    false_positive: float | None = None
    false_positive_bound: float | None = None
    detection: float | None = None

    def as_mapping(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TextThresholds:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _relative(a: float, b: float) -> float:
    return abs(a - b) / (abs(a) + abs(b) + DENOMINATOR_FLOOR)


def _position_distance(claimed: TopK, validator: TopK) -> tuple[float, int]:
    """Sum of relative differences over the claimed top-k at one position, and its size."""
    if not claimed:
        return 0.0, 0
    if not validator:
        return float(len(claimed)), len(claimed)
    lookup = dict(validator)
    lows = sorted(lookup.values())
    gap = lows[1] - lows[0] if len(lows) > 1 else 1.0
    absent = lows[0] - max(gap, DENOMINATOR_FLOOR)
    total = math.fsum(_relative(lp, lookup.get(token, absent)) for token, lp in claimed)
    return total, len(claimed)


def text_distance(claimed_top: Sequence[TopK], validator_top: Sequence[TopK]) -> float:
    """Mean relative difference between claimed and validator top-k logprobs, in ``[0, 1]``.

    After Gonka's inference validation (``token_distance2``/``distance2`` in
    https://github.com/gonka-ai/gonka, ``mlnode/packages/benchmarks/src/validation/
    utils.py``, and the "Inference Validation v2" proposal, gonka-ai/gonka PR #312): for
    every token the worker listed at a position, compare its logprob ``a`` with the
    validator's ``b`` as ``|a - b| / (|a| + |b|)``; a token missing from the validator's
    list is taken to sit one gap below the validator's lowest listed logprob (the gap
    between its two lowest), since all we know is that it ranks below them. Differences
    from Gonka: the per-token terms are averaged plainly (no length smoothing, so short
    answers are not let off), and the denominator has a small floor for near-certain
    tokens (see :data:`DENOMINATOR_FLOOR`).

    Both sequences must have one entry per generated token.
    """
    if len(claimed_top) != len(validator_top):
        raise ValueError(f"{len(claimed_top)} claimed positions, {len(validator_top)} validated")
    total, count = 0.0, 0
    for claimed, validator in zip(claimed_top, validator_top, strict=True):
        part, size = _position_distance(claimed, validator)
        total += part
        count += size
    return total / count if count else 0.0


def _malformed(output: TextOutput, sampled: bool) -> str | None:
    """Why an output's per-position lists are unusable, or ``None`` if they are fine."""
    positions = len(output.token_ids)
    if len(output.top_logprobs) != positions:
        return f"{len(output.top_logprobs)} top-k positions for {positions} tokens"
    for index, position in enumerate(output.top_logprobs):
        if not position:
            return f"position {index}: empty top-k"
        ids = [token for token, _ in position]
        if len(set(ids)) != len(ids):
            return f"position {index}: repeated token ids"
        for _, logprob in position:
            if not math.isfinite(logprob) or logprob > LOGPROB_SLACK:
                return f"position {index}: logprob {logprob} is not a log-probability"
    margins = output.margins_problem(sampled)
    return None if margins is None else f"choice margins: {margins.reason}"


def _problem(output: TextOutput | Failure, sampled: bool) -> TextOutput | Failure:
    if isinstance(output, Failure):
        return output
    if not output.token_ids:
        return Failure(FailureKind.EMPTY, "no generated tokens")
    problem = _malformed(output, sampled)
    return Failure(FailureKind.MALFORMED, problem) if problem else output


def first_difference(claimed: Sequence[int], validator: Sequence[int]) -> int | None:
    """The first position where two token sequences differ (a length counts), or ``None``."""
    for index, (a, b) in enumerate(zip(claimed, validator, strict=False)):
        if a != b:
            return index
    return None if len(claimed) == len(validator) else min(len(claimed), len(validator))


def tie_gap(claimed: TextOutput, validator: TextOutput, at: int, sampled: bool) -> float:
    """How far the validator's run at ``at`` was from choosing the claimed token instead.

    Sampled: the validator's choice margin (probability mass). Greedy: nats between the
    validator's top token and the claimed one, infinite when the claimed token is outside
    the validator's top-k. Both runs must have a token at ``at``.
    """
    if sampled:
        return validator.choice_margins[at]
    lookup = dict(validator.top_logprobs[at])
    return max(lookup.values()) - lookup.get(claimed.token_ids[at], -math.inf)


def _departure(
    claimed: TextOutput, validator: TextOutput, at: int, sampled: bool, limits: TextThresholds
) -> Comparison | None:
    """Why the claim's departure from the validator at ``at`` is not a tie, or ``None``."""
    if at >= len(claimed.token_ids) or at >= len(validator.token_ids):
        detail = (
            f"{len(claimed.token_ids)} claimed tokens, {len(validator.token_ids)} validated, "
            f"equal for the first {at}"
        )
        return Comparison(Outcome.DISAGREE, "length_mismatch", detail)
    token, expected = claimed.token_ids[at], validator.token_ids[at]
    gap = tie_gap(claimed, validator, at, sampled)
    if sampled:
        if gap > limits.sampled_tie_margin:
            detail = f"position {at}: token {token}, the draw picks {expected} ({gap:.6f} clear)"
            return Comparison(Outcome.DISAGREE, "different_choice", detail)
        return None
    if math.isinf(gap):
        top_k = len(validator.top_logprobs[at])
        detail = f"position {at}: token {token} outside the validator's top-{top_k}"
        return Comparison(Outcome.DISAGREE, "token_outside_top_k", detail)
    if gap > limits.greedy_tie_margin:
        detail = f"position {at}: token {token} is {gap:.4f} nats below top"
        return Comparison(Outcome.DISAGREE, "not_greedy_choice", detail)
    return None


def _moved_margin(
    claimed: TextOutput, validator: TextOutput, at: int | None, tolerance: float
) -> str | None:
    """Where the claim's choice margins stray from the validator's, over the shared tokens.

    Both runs drew the same tokens there with the same draws from distributions equal to
    rounding, so their margins agree to rounding too; margins that do not were computed
    from another distribution (text written by another model and only scored).
    """
    shared = len(claimed.token_ids) if at is None else at
    for index in range(min(shared, len(validator.token_ids))):
        gap = abs(claimed.choice_margins[index] - validator.choice_margins[index])
        if gap > tolerance:
            return f"position {index}: choice margin {gap:.6f} away from the validator's"
    return None


def check_text(
    claimed: TextOutput | Failure,
    validator: TextOutput | Failure,
    sampled: bool,
    thresholds: TextThresholds,
) -> Comparison:
    """Judge a text claim against the validator's run of the same job.

    ``sampled`` says whether the job's temperature is above zero. A :class:`Failure`, or
    an empty or malformed output, always loses for the side that owed it.
    """
    failed = gate(_problem(claimed, sampled), _problem(validator, sampled))
    if failed is not None:
        return failed
    assert isinstance(claimed, TextOutput) and isinstance(validator, TextOutput)
    at = first_difference(claimed.token_ids, validator.token_ids)
    shared = len(claimed.token_ids) if at is None else at + 1
    shared = min(shared, len(claimed.token_ids), len(validator.token_ids))
    distance = text_distance(claimed.top_logprobs[:shared], validator.top_logprobs[:shared])
    if at is not None:
        departure = _departure(claimed, validator, at, sampled, thresholds)
        if departure is not None:
            return replace(departure, distance=distance)
    if sampled:
        moved = _moved_margin(claimed, validator, at, thresholds.sampled_tie_margin)
        if moved is not None:
            return Comparison(Outcome.DISAGREE, "margin_mismatch", moved, distance)
    if distance > thresholds.max_distance:
        detail = f"distance {distance:.4f} > {thresholds.max_distance:.4f}"
        return Comparison(Outcome.DISAGREE, "logprob_distance", detail, distance)
    return Comparison(Outcome.AGREE, "within_thresholds", "", distance)
