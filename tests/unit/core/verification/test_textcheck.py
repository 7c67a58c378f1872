from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.outputs import TextOutput
from swarmgen.core.verification.failures import Failure, FailureKind, Outcome
from swarmgen.core.verification.textcheck import (
    TextThresholds,
    TopK,
    check_text,
    first_difference,
    text_distance,
)

THRESHOLDS = TextThresholds()


def distribution(logits: list[float]) -> TopK:
    """A top-k list (token ids 0..k-1 by rank) from arbitrary scores."""
    top = max(logits)
    norm = top + math.log(sum(math.exp(v - top) for v in logits))
    ranked = sorted(enumerate(logits), key=lambda item: -item[1])
    return tuple((token, value - norm) for token, value in ranked)


def output(
    tops: list[TopK], tokens: list[int] | None = None, margins: list[float] | None = None
) -> TextOutput:
    chosen = tokens if tokens is not None else [top[0][0] for top in tops]
    return TextOutput(
        text="x" * len(chosen),
        token_ids=tuple(chosen),
        top_logprobs=tuple(tuple(top) for top in tops),
        prompt_tokens=3,
        choice_margins=tuple(margins or ()),
    )


def sampled(tops: list[TopK], tokens: list[int], margin: float = 0.2) -> TextOutput:
    """A sampled run's output: every choice ``margin`` clear of its interval's edges."""
    return output(tops, tokens, [margin] * len(tokens))


def jitter(top: TopK, amount: float) -> TopK:
    return tuple((token, lp - amount * (i % 2)) for i, (token, lp) in enumerate(top))


TOPS = [distribution([3.0, 1.0, 0.5, 0.0, -1.0]), distribution([0.0, 2.5, 2.4, -3.0, 1.0])] * 4


def test_identical_runs_have_zero_distance_and_agree() -> None:
    assert text_distance(TOPS, TOPS) == 0.0
    assert check_text(output(TOPS), output(TOPS), False, THRESHOLDS).outcome is Outcome.AGREE


def test_rounding_noise_agrees() -> None:
    validator = output([jitter(top, 1e-4) for top in TOPS])
    result = check_text(output(TOPS), validator, False, THRESHOLDS)
    assert result.passed, result.detail


def test_logprobs_from_another_model_exceed_the_distance() -> None:
    other = [jitter(top, 1.0) for top in TOPS]
    result = check_text(output(other), output(TOPS), False, THRESHOLDS)
    assert result.reason == "logprob_distance"
    assert result.distance is not None and result.distance > THRESHOLDS.max_distance


@given(
    st.lists(
        st.lists(st.floats(-20.0, 0.0), min_size=1, max_size=6, unique=True),
        min_size=1,
        max_size=6,
    ),
    st.lists(
        st.lists(st.floats(-20.0, 0.0), min_size=1, max_size=6, unique=True),
        min_size=1,
        max_size=6,
    ),
)
def test_distance_is_within_unit_interval_and_zero_on_itself(
    a: list[list[float]], b: list[list[float]]
) -> None:
    n = min(len(a), len(b))
    left = [tuple(enumerate(p)) for p in a[:n]]
    right = [tuple((t + 2, v) for t, v in enumerate(p)) for p in b[:n]]
    assert text_distance(left, left) == 0.0
    assert 0.0 <= text_distance(left, right) <= 1.0


def test_a_greedy_token_outside_the_validators_top_k_fails() -> None:
    tokens = [top[0][0] for top in TOPS]
    tokens[3] = 99
    result = check_text(output(TOPS, tokens), output(TOPS), False, THRESHOLDS)
    assert result.reason == "token_outside_top_k"
    assert "position 3" in result.detail


def test_a_greedy_token_that_is_not_the_validators_choice_fails() -> None:
    tokens = [top[1][0] for top in TOPS]
    result = check_text(output(TOPS, tokens), output(TOPS), False, THRESHOLDS)
    assert result.reason == "not_greedy_choice"


def test_a_near_tie_in_greedy_decoding_parts_the_runs_without_failing() -> None:
    tie = distribution([1.0, 1.0 - THRESHOLDS.greedy_tie_margin / 2, -2.0])
    claimed = output([tie, TOPS[0]], [tie[1][0], 4])
    validator = output([tie, TOPS[1]], [tie[0][0], 2])  # continues from its own prefix
    assert check_text(claimed, validator, False, THRESHOLDS).passed


def test_logprobs_are_compared_up_to_where_the_runs_part() -> None:
    tie = distribution([1.0, 1.0, -2.0])
    far = [jitter(top, 1.0) for top in TOPS]
    claimed = output([tie, *far], [tie[1][0], *(top[0][0] for top in far)])
    validator = output([tie, *TOPS], [tie[0][0], *(top[0][0] for top in TOPS)])
    result = check_text(claimed, validator, False, THRESHOLDS)
    assert result.passed and result.distance == 0.0


def test_sampled_runs_that_draw_the_same_tokens_agree() -> None:
    tokens = [top[2][0] for top in TOPS]
    assert check_text(sampled(TOPS, tokens), sampled(TOPS, tokens), True, THRESHOLDS).passed


def test_sampled_tokens_outside_the_top_k_pass_when_the_validator_drew_them_too() -> None:
    tokens = [42] * len(TOPS)
    assert check_text(sampled(TOPS, tokens), sampled(TOPS, tokens), True, THRESHOLDS).passed


def test_a_sampled_token_the_draw_did_not_pick_fails_even_with_the_right_logprobs() -> None:
    tokens = [top[2][0] for top in TOPS]
    prefilled = list(tokens)
    prefilled[5] = TOPS[5][0][0]
    result = check_text(sampled(TOPS, prefilled), sampled(TOPS, tokens), True, THRESHOLDS)
    assert result.reason == "different_choice"
    assert "position 5" in result.detail


def test_a_sampled_draw_on_the_edge_of_two_tokens_is_a_tie() -> None:
    tokens = [top[2][0] for top in TOPS]
    other = list(tokens)
    other[5] = TOPS[5][0][0]
    margins = [0.2] * len(TOPS)
    margins[5] = THRESHOLDS.sampled_tie_margin / 2
    validator = output(TOPS, tokens, margins)
    assert check_text(sampled(TOPS, other), validator, True, THRESHOLDS).passed


def test_sampled_margins_must_match_the_validators_where_the_tokens_do() -> None:
    tokens = [top[2][0] for top in TOPS]
    validator = sampled(TOPS, tokens, margin=0.2)
    rounded = sampled(TOPS, tokens, margin=0.2 + 1e-6)
    assert check_text(rounded, validator, True, THRESHOLDS).passed
    # The same tokens and logprobs, with margins from another model's distribution.
    written_elsewhere = sampled(TOPS, tokens, margin=0.05)
    result = check_text(written_elsewhere, validator, True, THRESHOLDS)
    assert result.reason == "margin_mismatch" and "position 0" in result.detail


@pytest.mark.parametrize("length", [3, len(TOPS) + 1])
def test_an_answer_cut_short_or_run_on_fails(length: int) -> None:
    tops = (TOPS * 2)[:length]
    result = check_text(output(tops), output(TOPS), False, THRESHOLDS)
    assert result.reason == "length_mismatch"


@pytest.mark.parametrize(
    ("claimed", "kind"),
    [
        (output([], []), FailureKind.EMPTY),
        (output(TOPS[:2], [1, 2, 3]), FailureKind.MALFORMED),
        (output([((1, -0.1), (1, -0.2))]), FailureKind.MALFORMED),
        (output([((1, 0.5),)]), FailureKind.MALFORMED),
        (output([((1, math.nan),)]), FailureKind.MALFORMED),
        (output([()], [1]), FailureKind.MALFORMED),
    ],
)
def test_malformed_claims_lose(claimed: TextOutput, kind: FailureKind) -> None:
    result = check_text(claimed, output(TOPS), False, THRESHOLDS)
    assert result.outcome is Outcome.CLAIM_FAILED
    assert result.reason == kind.value


@pytest.mark.parametrize(
    ("margins", "sampled_job"),
    [([0.2] * (len(TOPS) - 1), True), ([0.2] * len(TOPS), False), ([0.7] * len(TOPS), True)],
)
def test_choice_margins_that_do_not_fit_the_job_are_malformed(
    margins: list[float], sampled_job: bool
) -> None:
    claimed = output(TOPS, None, margins)
    good = output(TOPS, None, [0.2] * len(TOPS) if sampled_job else None)
    result = check_text(claimed, good, sampled_job, THRESHOLDS)
    assert result.outcome is Outcome.CLAIM_FAILED and result.reason == "malformed"


def test_a_malformed_validator_run_is_the_validators_failure() -> None:
    result = check_text(output(TOPS), output(TOPS[:2], [1, 2, 3]), False, THRESHOLDS)
    assert result.outcome is Outcome.VALIDATOR_FAILED


@given(st.sampled_from(FailureKind), st.booleans())
def test_failures_never_pass(kind: FailureKind, claim_side: bool) -> None:
    failure = Failure(kind)
    if claim_side:
        result = check_text(failure, output(TOPS), False, THRESHOLDS)
        assert result.outcome is Outcome.CLAIM_FAILED
    else:
        result = check_text(output(TOPS), failure, False, THRESHOLDS)
        assert result.outcome is Outcome.VALIDATOR_FAILED
    assert not result.passed


def test_a_malformed_claim_and_a_failed_validator_both_lose() -> None:
    result = check_text(output([], []), Failure(FailureKind.TIMEOUT), False, THRESHOLDS)
    assert result.outcome is Outcome.BOTH_FAILED


@pytest.mark.parametrize(
    ("claimed", "validator", "expected"),
    [
        ([1, 2, 3], [1, 2, 3], None),
        ([1, 2, 3], [1, 5, 3], 1),
        ([1, 2], [1, 2, 3], 2),
        ([], [], None),
    ],
)
def test_first_difference(claimed: list[int], validator: list[int], expected: int | None) -> None:
    assert first_difference(claimed, validator) == expected


def test_thresholds_round_trip_through_the_registry_form() -> None:
    fitted = TextThresholds(max_distance=0.02, false_positive=0.001)
    assert TextThresholds.from_mapping(fitted.as_mapping()) == fitted
