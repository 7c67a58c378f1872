from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.outputs import TextOutput
from swarmgen.core.verification.failures import Failure, FailureKind, Outcome
from swarmgen.core.verification.textcheck import TextThresholds, TopK, check_text, text_distance

THRESHOLDS = TextThresholds()


def distribution(logits: list[float]) -> TopK:
    """A top-k list (token ids 0..k-1 by rank) from arbitrary scores."""
    top = max(logits)
    norm = top + math.log(sum(math.exp(v - top) for v in logits))
    ranked = sorted(enumerate(logits), key=lambda item: -item[1])
    return tuple((token, value - norm) for token, value in ranked)


def output(tops: list[TopK], tokens: list[int] | None = None) -> TextOutput:
    chosen = tokens if tokens is not None else [top[0][0] for top in tops]
    return TextOutput(
        text="x" * len(chosen),
        token_ids=tuple(chosen),
        top_logprobs=tuple(tuple(top) for top in tops),
        prompt_tokens=3,
    )


def jitter(top: TopK, amount: float) -> TopK:
    return tuple((token, lp - amount * (i % 2)) for i, (token, lp) in enumerate(top))


TOPS = [distribution([3.0, 1.0, 0.5, 0.0, -1.0]), distribution([0.0, 2.5, 2.4, -3.0, 1.0])] * 4


def test_identical_logprobs_have_zero_distance_and_agree() -> None:
    assert text_distance(TOPS, TOPS) == 0.0
    assert check_text(output(TOPS), TOPS, None, THRESHOLDS).outcome is Outcome.AGREE


def test_rounding_noise_agrees() -> None:
    validator = [jitter(top, 1e-4) for top in TOPS]
    result = check_text(output(TOPS), validator, None, THRESHOLDS)
    assert result.passed, result.detail


def test_logprobs_from_another_model_exceed_the_distance() -> None:
    other = [jitter(top, 1.0) for top in TOPS]
    result = check_text(output(other), TOPS, None, THRESHOLDS)
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
    result = check_text(output(TOPS, tokens), TOPS, None, THRESHOLDS)
    assert result.reason == "token_outside_top_k"
    assert "position 3" in result.detail


def test_a_greedy_token_that_is_not_the_validators_choice_fails() -> None:
    tokens = [top[1][0] for top in TOPS]
    assert check_text(output(TOPS, tokens), TOPS, None, THRESHOLDS).reason == "not_greedy_choice"


def test_a_near_tie_in_greedy_decoding_is_tolerated() -> None:
    tie = distribution([1.0, 1.0 - THRESHOLDS.greedy_tie_margin / 2, -2.0])
    claimed = output([tie], [tie[1][0]])
    assert check_text(claimed, [tie], None, THRESHOLDS).passed


def test_sampled_tokens_must_equal_the_replayed_choices() -> None:
    tokens = [top[2][0] for top in TOPS]
    assert check_text(output(TOPS, tokens), TOPS, tokens, THRESHOLDS).passed
    prefilled = list(tokens)
    prefilled[5] = TOPS[5][0][0]
    result = check_text(output(TOPS, prefilled), TOPS, tokens, THRESHOLDS)
    assert result.reason == "replay_mismatch"


def test_sampled_tokens_outside_the_top_k_pass_when_the_replay_agrees() -> None:
    tokens = [42] * len(TOPS)
    assert check_text(output(TOPS, tokens), TOPS, tokens, THRESHOLDS).passed


def test_replay_mismatch_rate_is_a_threshold() -> None:
    tokens = [top[0][0] for top in TOPS]
    replay = list(tokens)
    replay[0] = 77
    lenient = TextThresholds(max_replay_mismatch_rate=1 / len(TOPS))
    assert check_text(output(TOPS, tokens), TOPS, replay, lenient).passed
    assert not check_text(output(TOPS, tokens), TOPS, replay, THRESHOLDS).passed


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
    result = check_text(claimed, TOPS, None, THRESHOLDS)
    assert result.outcome is Outcome.CLAIM_FAILED
    assert result.reason == kind.value


def test_a_validator_with_the_wrong_number_of_positions_loses() -> None:
    result = check_text(output(TOPS), TOPS[:-1], None, THRESHOLDS)
    assert result.outcome is Outcome.VALIDATOR_FAILED


def test_a_replay_of_the_wrong_length_is_the_validators_failure() -> None:
    result = check_text(output(TOPS), TOPS, [0], THRESHOLDS)
    assert result.outcome is Outcome.VALIDATOR_FAILED


@given(st.sampled_from(FailureKind), st.booleans())
def test_failures_never_pass(kind: FailureKind, claim_side: bool) -> None:
    failure = Failure(kind)
    if claim_side:
        result = check_text(failure, TOPS, None, THRESHOLDS)
        assert result.outcome is Outcome.CLAIM_FAILED
    else:
        result = check_text(output(TOPS), failure, None, THRESHOLDS)
        assert result.outcome is Outcome.VALIDATOR_FAILED
    assert not result.passed


def test_a_malformed_claim_and_a_failed_validator_both_lose() -> None:
    result = check_text(output([], []), Failure(FailureKind.TIMEOUT), None, THRESHOLDS)
    assert result.outcome is Outcome.BOTH_FAILED


def test_thresholds_round_trip_through_the_registry_form() -> None:
    fitted = TextThresholds(max_distance=0.02, false_positive=0.001)
    assert TextThresholds.from_mapping(fitted.as_mapping()) == fitted
