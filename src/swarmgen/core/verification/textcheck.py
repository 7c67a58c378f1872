"""Checking a text result against a validator's teacher-forced pass.

The validator runs one forward pass over prompt + claimed tokens and reports, per
generated position, its own top-k ``(token_id, logprob)`` pairs; for sampled jobs it also
replays each token choice with the job's RNG (seeded by ``text_sampling_seed``). A claim
passes when:

- greedy jobs: every claimed token is in the validator's top-k and within
  ``greedy_tie_margin`` nats of the validator's most likely token;
- sampled jobs: the claimed tokens equal the replayed choices (up to
  ``max_replay_mismatch_rate``). Membership in the top-k is not required here: honest
  sampling often draws a token outside a short top-k list, while the replay pins each
  choice exactly. That is what defeats pre-filling, where a cheap model writes the text
  and the real model only scores it;
- and the claimed top-k logprobs are within ``max_distance`` of the validator's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
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
    max_replay_mismatch_rate: float = 0.0
    """Sampled jobs: largest share of positions whose claimed token differs from the replay."""
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


def _malformed(top: Sequence[TopK], positions: int) -> str | None:
    """Why a per-position top-k list is unusable, or ``None`` if it is fine."""
    if len(top) != positions:
        return f"{len(top)} top-k positions for {positions} tokens"
    for index, position in enumerate(top):
        if not position:
            return f"position {index}: empty top-k"
        ids = [token for token, _ in position]
        if len(set(ids)) != len(ids):
            return f"position {index}: repeated token ids"
        for _, logprob in position:
            if not math.isfinite(logprob) or logprob > LOGPROB_SLACK:
                return f"position {index}: logprob {logprob} is not a log-probability"
    return None


def _claim_problem(claimed: TextOutput) -> Failure | None:
    if not claimed.token_ids:
        return Failure(FailureKind.EMPTY, "no generated tokens")
    problem = _malformed(claimed.top_logprobs, len(claimed.token_ids))
    return Failure(FailureKind.MALFORMED, problem) if problem else None


def _greedy_problem(
    tokens: Sequence[int], validator_top: Sequence[TopK], margin: float
) -> Comparison | None:
    for index, (token, position) in enumerate(zip(tokens, validator_top, strict=True)):
        lookup = dict(position)
        if token not in lookup:
            detail = f"position {index}: token {token} outside the validator's top-{len(position)}"
            return Comparison(Outcome.DISAGREE, "token_outside_top_k", detail)
        best = max(lookup.values())
        if best - lookup[token] > margin:
            detail = f"position {index}: token {token} is {best - lookup[token]:.4f} nats below top"
            return Comparison(Outcome.DISAGREE, "not_greedy_choice", detail)
    return None


def _replay_problem(
    tokens: Sequence[int], replayed: Sequence[int], max_rate: float
) -> Comparison | None:
    mismatches = [i for i, (a, b) in enumerate(zip(tokens, replayed, strict=True)) if a != b]
    if len(mismatches) > max_rate * len(tokens):
        count = f"{len(mismatches)}/{len(tokens)}"
        detail = f"{count} tokens differ from the replay, first at position {mismatches[0]}"
        return Comparison(Outcome.DISAGREE, "replay_mismatch", detail)
    return None


def check_text(
    claimed: TextOutput | Failure,
    validator_top: Sequence[TopK] | Failure,
    replayed_choices: Sequence[int] | None,
    thresholds: TextThresholds,
) -> Comparison:
    """Judge a text claim against the validator's pass; a :class:`Failure` always loses.

    ``replayed_choices`` is ``None`` for greedy jobs and the validator's replayed token
    per position for sampled ones.
    """
    if isinstance(claimed, TextOutput):
        claimed = _claim_problem(claimed) or claimed
    if not isinstance(claimed, Failure) and not isinstance(validator_top, Failure):
        positions = len(claimed.token_ids)
        problem = _malformed(validator_top, positions)
        if problem is None and replayed_choices is not None and len(replayed_choices) != positions:
            problem = f"{len(replayed_choices)} replayed choices for {positions} tokens"
        if problem is not None:
            validator_top = Failure(FailureKind.MALFORMED, problem)
    failed = gate(claimed, validator_top)
    if failed is not None:
        return failed
    assert isinstance(claimed, TextOutput) and not isinstance(validator_top, Failure)
    distance = text_distance(claimed.top_logprobs, validator_top)
    if replayed_choices is None:
        mismatch = _greedy_problem(claimed.token_ids, validator_top, thresholds.greedy_tie_margin)
    else:
        mismatch = _replay_problem(
            claimed.token_ids, replayed_choices, thresholds.max_replay_mismatch_rate
        )
    if mismatch is not None:
        return Comparison(mismatch.outcome, mismatch.reason, mismatch.detail, distance)
    if distance > thresholds.max_distance:
        detail = f"distance {distance:.4f} > {thresholds.max_distance:.4f}"
        return Comparison(Outcome.DISAGREE, "logprob_distance", detail, distance)
    return Comparison(Outcome.AGREE, "within_thresholds", "", distance)
