"""Panels the stages have not decided, settled at an epoch close on the votes they have."""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.verification.escalation import (
    Ballot,
    Decision,
    Status,
    Vote,
    decide,
    settle_stalled,
)

A, D, X, C = Vote.AGREE, Vote.DISAGREE, Vote.ABSENT, Vote.CLAIM_INVALID


def ballots(*votes: Vote) -> list[Ballot]:
    return [Ballot(f"v{i}", vote) for i, vote in enumerate(votes)]


def at_next_close(*votes: Vote, owners: Mapping[str, str] | None = None) -> Decision:
    return settle_stalled(ballots(*votes), owners=owners, closes_waited=1)


def test_the_close_of_the_claims_own_epoch_settles_nothing() -> None:
    for votes in [(D, D), (A, A), (D, A), (D,), (D, D, A), (A, A, D)]:
        decision = settle_stalled(ballots(*votes), closes_waited=0)
        assert decision.status is Status.PENDING
        assert decision == decide(ballots(*votes))


def test_two_agreeing_owners_uphold_at_the_next_close() -> None:
    decision = at_next_close(A, A)
    assert decision.status is Status.UPHELD and decision.penalised == ()


def test_two_disagreeing_owners_reject_at_the_next_close() -> None:
    decision = at_next_close(D, D)
    assert decision.status is Status.REJECTED and decision.penalised == ()


def test_a_tie_never_upholds_it_abandons_and_penalises_no_one() -> None:
    for votes in [(D, A), (A, D)]:
        decision = at_next_close(*votes)
        assert decision.status is Status.ABANDONED
        assert decision.penalised == ()


def test_a_two_to_one_split_is_abandoned_either_way() -> None:
    for votes in [(D, D, A), (A, A, D), (D, A, D), (A, D, A)]:
        assert decide(ballots(*votes)).status is Status.PENDING  # escalated to 5
        decision = at_next_close(*votes)
        assert decision.status is Status.ABANDONED and decision.penalised == ()


def test_a_single_voice_never_decides_alone() -> None:
    for votes in [(D,), (A,), (D, X), (X, A), ()]:
        decision = at_next_close(*votes)
        assert decision.status is Status.ABANDONED and decision.penalised == ()


def test_an_absent_validator_is_penalised_only_when_the_panel_decides() -> None:
    decision = at_next_close(X, D, D)
    assert decision.status is Status.REJECTED and decision.penalised == ("v0",)
    assert at_next_close(X, D, A).penalised == ()


def test_a_decided_panel_keeps_its_decision() -> None:
    for waited in (0, 1, 2):
        assert settle_stalled(ballots(C), closes_waited=waited).status is Status.REJECTED
        assert settle_stalled(ballots(A, A, A), closes_waited=waited) == decide(ballots(A, A, A))


def test_two_keys_of_one_owner_are_one_voice() -> None:
    owners = {"v0": "mal", "v1": "mal", "v2": "bob"}
    # one owner's two keys, agreeing or not, are one voice: no decision
    assert at_next_close(D, D, owners=owners).status is Status.ABANDONED
    assert at_next_close(A, A, owners=owners).status is Status.ABANDONED
    # two keys of one owner against one honest voice: a split, not a conviction
    assert at_next_close(D, D, A, owners=owners).status is Status.ABANDONED
    # an owner whose own keys split is no agreeing voice either
    assert at_next_close(D, A, D, owners=owners).status is Status.ABANDONED
    # two owners agreeing decide
    assert at_next_close(D, D, owners={"v0": "mal", "v1": "bob"}).status is Status.REJECTED


def reachable(votes: list[Vote]) -> list[Vote]:
    """The prefix of ``votes`` a real panel takes (none once the stages decide)."""
    cast: list[Vote] = []
    for vote in votes:
        if decide(ballots(*cast)).status is not Status.PENDING:
            break
        cast.append(vote)
    return cast


@given(
    st.lists(st.sampled_from([A, D, X]), max_size=7),
    st.lists(st.sampled_from(["mal", "eve", "bob", None]), min_size=7, max_size=7),
    st.integers(1, 3),
)
def test_a_stalled_panel_decides_only_on_two_unanimous_owners(
    votes: list[Vote], owner_of: list[str | None], waited: int
) -> None:
    cast = reachable(votes)
    owners = {f"v{i}": o for i, o in enumerate(owner_of) if o is not None}
    decision = settle_stalled(ballots(*cast), owners=owners, closes_waited=waited)
    staged = decide(ballots(*cast))
    assert decision.status is not Status.PENDING  # the second close always settles
    if staged.status is not Status.PENDING:
        assert decision == staged
        return
    counted = [(f"v{i}", v) for i, v in enumerate(cast) if v in (A, D)]
    voices = {owners.get(k, k) for k, _ in counted}
    if decision.status is Status.UPHELD:
        assert len(voices) >= 2 and all(v is A for _, v in counted)
    if decision.status is Status.REJECTED:
        assert len(voices) >= 2 and all(v is D for _, v in counted)
    if decision.status is Status.ABANDONED:
        assert decision.penalised == ()
    # never a conviction against an agreeing voice, never a pass against a dissenting one
    if any(v is A for _, v in counted):
        assert decision.status is not Status.REJECTED
    if any(v is D for _, v in counted):
        assert decision.status is not Status.UPHELD
