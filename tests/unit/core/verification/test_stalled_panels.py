"""Panels settled at the epoch close on the votes they have."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.verification.escalation import (
    Ballot,
    Status,
    Vote,
    decide,
    settle_stalled,
)

A, D, X, C = Vote.AGREE, Vote.DISAGREE, Vote.ABSENT, Vote.CLAIM_INVALID


def ballots(*votes: Vote) -> list[Ballot]:
    return [Ballot(f"v{i}", vote) for i, vote in enumerate(votes)]


def test_two_disagreeing_validators_reject_and_nobody_is_penalised() -> None:
    decision = settle_stalled(ballots(D, D))
    assert decision.status is Status.REJECTED
    assert decision.penalised == ()


def test_a_tie_upholds_and_penalises_the_dissenter() -> None:
    decision = settle_stalled(ballots(D, A))
    assert decision.status is Status.UPHELD
    assert decision.penalised == ("v0",)


def test_a_single_vote_never_decides_alone() -> None:
    assert settle_stalled(ballots(D)).status is Status.PENDING
    assert settle_stalled(ballots(D, X)).status is Status.PENDING


def test_an_absent_validator_is_penalised_whatever_the_outcome() -> None:
    decision = settle_stalled(ballots(X, D, D, A))
    assert decision.status is Status.REJECTED
    assert decision.penalised == ("v0", "v3")


def test_a_decided_panel_keeps_its_decision() -> None:
    assert settle_stalled(ballots(A)) == decide(ballots(A))
    assert settle_stalled(ballots(C)).status is Status.REJECTED


@given(st.lists(st.sampled_from([A, D, X]), max_size=7))
def test_rejection_needs_more_votes_against_than_for(votes: list[Vote]) -> None:
    cast: list[Vote] = []
    for vote in votes:  # a real panel takes no ballot once decided
        if decide(ballots(*cast)).status is not Status.PENDING:
            break
        cast.append(vote)
    votes = cast
    decision = settle_stalled(ballots(*votes))
    against, for_ = votes.count(D), votes.count(A)
    if decision.status is Status.REJECTED:
        assert against > for_ and against >= 2
    if decision.status is Status.UPHELD:
        assert for_ >= against


def test_two_keys_of_one_owner_are_one_voice_at_the_close() -> None:
    owners = {"v0": "mal", "v1": "mal", "v2": "bob"}
    # one owner's two disagreeing keys do not settle (let alone reject) a panel
    assert settle_stalled(ballots(D, D), owners=owners).status is Status.PENDING
    # nor outvote a third party: one voice each, a tie upholds
    decision = settle_stalled(ballots(D, D, A), owners=owners)
    assert decision.status is Status.UPHELD and decision.penalised == ("v0",)
    # two owners' votes settle as before
    assert settle_stalled(ballots(D, A, D), owners=owners).status is Status.REJECTED
