from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.verification.escalation import (
    Ballot,
    EscalationPolicy,
    Participant,
    Status,
    Vote,
    ballot_of,
    can_validate,
    decide,
    expected_panel,
    may_sit,
    rejection_probability,
)
from swarmgen.core.verification.failures import Comparison, Outcome, VerificationError

POLICY = EscalationPolicy((1, 3, 5))  # the rules of growth, on the smallest ladder
A, D, X = Vote.AGREE, Vote.DISAGREE, Vote.ABSENT


def ballots(*votes: Vote) -> list[Ballot]:
    return [Ballot(f"v{i}", vote) for i, vote in enumerate(votes)]


def test_eligibility_excludes_self_same_owner_and_panel_members() -> None:
    claimant = Participant("w1", "alice")
    assert not can_validate(Participant("w1", "bob"), claimant)
    assert not can_validate(Participant("w2", "alice"), claimant)
    assert not can_validate(Participant("w3", "bob"), claimant, panel={"w3"})
    assert can_validate(Participant("w3", "bob"), claimant, panel={"w4"})


def test_unowned_workers_share_no_owner() -> None:
    assert can_validate(Participant("w2", None), Participant("w1", None))
    assert can_validate(Participant("w2", None), Participant("w1", "alice"))
    assert can_validate(Participant("w2", "alice"), Participant("w1", None))
    assert not can_validate(Participant("w1", None), Participant("w1", None))


def test_no_worker_of_the_checked_jobs_requester_may_validate_it() -> None:
    claimant = Participant("w1", "alice")
    rita = Participant("w2", "rita")  # owns a worker and submitted the checked job
    assert can_validate(rita, claimant)  # on anyone else's job she may sit
    assert can_validate(rita, claimant, requester="bob")
    assert not can_validate(rita, claimant, requester="rita")
    assert can_validate(Participant("w3", "carol"), claimant, requester="rita")
    # an unowned key has no requester account behind it (and is never drawn anyway)
    assert can_validate(Participant("w4", None), claimant, requester="rita")
    # drawn for the seat does not override it
    assert not may_sit(rita, claimant, assigned="w2", requester="rita")
    assert may_sit(rita, claimant, assigned="w2", requester="bob")


def test_one_agreeing_validator_upholds() -> None:
    assert decide(ballots(A), POLICY).status is Status.UPHELD


def test_one_disagreeing_validator_escalates_to_three() -> None:
    decision = decide(ballots(D), POLICY)
    assert decision.status is Status.PENDING
    assert (decision.needed, decision.stage) == (2, 3)


def test_three_unanimous_dissenters_reject_and_split_votes_go_to_five() -> None:
    assert decide(ballots(D, D, D), POLICY).status is Status.REJECTED
    split = decide(ballots(D, A, A), POLICY)
    assert (split.status, split.needed, split.stage) == (Status.PENDING, 2, 5)


def test_the_majority_of_five_decides_and_the_minority_is_penalised() -> None:
    upheld = decide(ballots(D, A, D, A, A), POLICY)
    assert upheld.status is Status.UPHELD and upheld.penalised == ("v0", "v2")
    rejected = decide(ballots(D, A, D, A, D), POLICY)
    assert rejected.status is Status.REJECTED and rejected.penalised == ("v1", "v3")


def test_absent_validators_are_penalised_and_replaced() -> None:
    decision = decide(ballots(X, D, X), POLICY)
    assert decision.status is Status.PENDING and decision.needed == 2
    assert decision.penalised == ("v0", "v2")


def test_an_invalid_claim_loses_without_a_panel() -> None:
    comparison = Comparison(Outcome.BOTH_FAILED, "both_failed")
    decision = decide([ballot_of("v0", comparison)], POLICY)
    assert decision.status is Status.REJECTED and decision.penalised == ("v0",)


def test_a_validator_cannot_vote_twice() -> None:
    with pytest.raises(VerificationError):
        decide([Ballot("v", A), Ballot("v", D)], POLICY)


@pytest.mark.parametrize("stages", [(), (2,), (1, 1), (3, 1), (0, 3)])
def test_panel_stages_must_be_growing_odd_numbers(stages: tuple[int, ...]) -> None:
    with pytest.raises(VerificationError):
        EscalationPolicy(stages)


votes = st.lists(st.sampled_from([A, D]), max_size=7)


@given(votes)
def test_a_decision_follows_the_majority_of_its_panel(sequence: list[Vote]) -> None:
    decision = decide(ballots(*sequence), POLICY)
    if decision.status is Status.PENDING:
        assert decision.needed > 0
        return
    panel = sequence[: decision.stage]
    agree = panel.count(A)
    assert (decision.status is Status.UPHELD) == (2 * agree > len(panel))
    loser = D if decision.status is Status.UPHELD else A
    assert len(decision.penalised) == panel.count(loser)


@given(votes)
def test_no_single_validator_can_reject(sequence: list[Vote]) -> None:
    decision = decide(ballots(*sequence), POLICY)
    if decision.status is Status.REJECTED:
        assert sequence[: decision.stage].count(D) > POLICY.stages[-1] // 2


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_rejection_probability_is_monotone(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert rejection_probability(low, POLICY) <= rejection_probability(high, POLICY) + 1e-12


def test_rejection_probability_matches_a_hand_count() -> None:
    p = 0.1
    # Reject at 3: D D D. Reject at 5: first D, then 4 more votes with at least 2 more D,
    # excluding the D D D prefix counted already.
    at_three = p**3
    at_five = p * (
        2 * p * (1 - p) * (1 - (1 - p) ** 2)  # one D among votes 2-3, then >= 1 D of 2
        + (1 - p) ** 2 * p**2  # A A, then D D
    )
    assert rejection_probability(p, POLICY) == pytest.approx(at_three + at_five)
    assert rejection_probability(p, POLICY, first=A) == 0.0


def test_the_expected_panel_is_the_first_stage_unless_votes_disagree() -> None:
    assert expected_panel(0.0, POLICY) == 1.0
    assert expected_panel(0.0) == 3.0  # the drawn default: three first seats
    assert expected_panel(1.0, POLICY) == 3.0  # three dissenters reject at stage 3
    assert 1.0 < expected_panel(0.01, POLICY) < expected_panel(0.1, POLICY) < 3.0


def test_the_default_first_stage_needs_three_agreeing_seats() -> None:
    assert decide(ballots(A)).status is Status.PENDING
    assert decide(ballots(A, A, A)).status is Status.UPHELD
    assert decide(ballots(A, A, D)).needed == 2
    assert decide(ballots(D, D, D, D, D)).status is Status.REJECTED  # at least 4 of 7


def test_a_second_key_of_an_owner_on_the_panel_may_not_validate() -> None:
    claimant = Participant("w1", "alice")
    assert not can_validate(Participant("w3", "bob"), claimant, {"w2"}, {"bob"})
    assert can_validate(Participant("w3", "carol"), claimant, {"w2"}, {"bob"})
    assert can_validate(Participant("w3", None), claimant, {"w2"}, {"bob"})
