"""Who may validate a claim, and how a panel of validators reaches a decision.

A sampled job is re-executed by the first stage's validators, three by default, each
drawn by stake (:mod:`swarmgen.core.verification.draw`). If they all agree, the claim
stands. If not, the panel grows to 5, then 7 validators (the :class:`EscalationPolicy`
stages). A stage whose votes all agree upholds the claim; a claim is rejected only by a
majority of the largest panel (4 of 7), so no single validator can sink an honest
worker; the last stage decides by majority. Three first seats, not one, because an
adversary holding a share ``s`` of the stake sits each drawn seat with probability
``s``: with one first seat it upholds its own cheats about ``s`` of the time (10 % at
10 % of the stake), with three it must hold all three or win the escalation, under 1 %
at 10 % (decision record 0014, ``bench/cheat_economics.py --section seats``).
Validators on the losing side are penalised like a cheating worker; a validator that
failed to produce an artifact (error, timeout) is penalised and replaced. A panel the
stages leave undecided at epoch closes (a network too small to fill it) is settled by
:func:`settle_stalled`: carried over one close, then unanimous or abandoned.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from swarmgen.core.verification.failures import Comparison, Outcome, VerificationError


@dataclass(frozen=True)
class Participant:
    """A worker as eligibility sees it: its id and the account that owns it (if any)."""

    worker_id: str
    owner_id: str | None


def same_owner(a: Participant, b: Participant) -> bool:
    """True when both workers are owned, by the same account (an unowned worker shares
    no owner with anyone: it has no stake and no other keys to collude through)."""
    return a.owner_id is not None and a.owner_id == b.owner_id


def can_validate(
    candidate: Participant,
    claimant: Participant,
    panel: Collection[str] = (),
    panel_owners: Collection[str] = (),
    requester: str | None = None,
) -> bool:
    """True when ``candidate`` may re-execute ``claimant``'s job.

    Never the same worker, never a worker of the same owner, never twice on one panel
    (``panel``: every worker that holds or held a seat on this claim, voted on it, or
    let a seat on it expire, so a key that lets a seat lapse cannot take it back), and
    never a second key of an owner already there (``panel_owners``: the owners of
    ``panel``'s workers). A panel counts owners, not keys: two keys of one owner would
    cast one party's two votes, and a seat one key let lapse would go to its sibling.
    Nor a worker of ``requester``, the account that submitted the checked job: a
    requester has a stake in its own job's verdict (a rejected claim refunds it), so it
    could vote a sound result down, stall the panel, or shield a partner's cheat.
    This is the rule; dispatch implements it as a query
    (:mod:`swarmgen.store.dispatch`), and a test checks the two agree.
    """
    return (
        candidate.worker_id != claimant.worker_id
        and not same_owner(candidate, claimant)
        and candidate.worker_id not in panel
        and (candidate.owner_id is None or candidate.owner_id not in panel_owners)
        and (candidate.owner_id is None or candidate.owner_id != requester)
    )


def may_sit(
    candidate: Participant,
    claimant: Participant,
    panel: Collection[str] = (),
    assigned: str | None = None,
    panel_owners: Collection[str] = (),
    *,
    requester: str | None = None,
) -> bool:
    """True when ``candidate`` may lease a validation seat drawn for ``assigned``.

    A seat goes only to the worker drawn for it (:mod:`swarmgen.core.verification.draw`);
    an undrawn seat (``assigned`` is ``None``) goes to nobody. :func:`can_validate` still
    holds on top, should a drawn worker's standing on the panel change before it pops.
    """
    return assigned == candidate.worker_id and can_validate(
        candidate, claimant, panel, panel_owners, requester
    )


class Vote(StrEnum):
    """One validator's finding about a claim."""

    AGREE = "agree"
    """Its re-execution matches the claim."""
    DISAGREE = "disagree"
    """Its re-execution differs beyond the thresholds."""
    ABSENT = "absent"
    """It produced no usable artifact; it is penalised and does not count."""
    CLAIM_INVALID = "claim_invalid"
    """The claimed artifact itself is missing or malformed: the claim loses outright."""


def vote_of(comparison: Comparison) -> Vote:
    """The vote a comparison casts (a claim failure outranks a validator failure)."""
    if comparison.outcome.claim_lost:
        return Vote.CLAIM_INVALID
    if comparison.outcome is Outcome.VALIDATOR_FAILED:
        return Vote.ABSENT
    return Vote.AGREE if comparison.passed else Vote.DISAGREE


@dataclass(frozen=True)
class Ballot:
    """One validator's vote on one claim."""

    validator_id: str
    vote: Vote
    absent_too: bool = False
    """The validator also failed (both sides failed): penalised even if the claim loses."""


def ballot_of(validator_id: str, comparison: Comparison) -> Ballot:
    return Ballot(validator_id, vote_of(comparison), comparison.outcome is Outcome.BOTH_FAILED)


DRAWN_STAGES = (3, 5, 7)
"""Default panel stages: three drawn seats first (see the module docstring)."""


@dataclass(frozen=True)
class EscalationPolicy:
    """Panel sizes, smallest first; each odd so a majority always exists."""

    stages: tuple[int, ...] = DRAWN_STAGES

    def __post_init__(self) -> None:
        if not self.stages or any(s < 1 or s % 2 == 0 for s in self.stages):
            raise VerificationError("panel stages must be positive odd numbers")
        if any(b <= a for a, b in zip(self.stages, self.stages[1:], strict=False)):
            raise VerificationError("panel stages must grow strictly")


class Status(StrEnum):
    """Where a claim stands with its panel."""

    PENDING = "pending"
    """More validators are needed."""
    UPHELD = "upheld"
    """The claim stands: the check is passed."""
    REJECTED = "rejected"
    """The claim loses: the check is failed."""
    ABANDONED = "abandoned"
    """Settled at a close without a decision (:func:`settle_stalled`): counted for no
    one, nobody penalised, the job refunded and its claimant not paid."""


@dataclass(frozen=True)
class Decision:
    """The panel's state: status, how many more validators to assign, and who is penalised."""

    status: Status
    needed: int
    stage: int
    """Panel size of the stage the votes have reached."""
    penalised: tuple[str, ...]
    """Validators on the losing side or that failed, in ballot order."""


def _check_ballots(ballots: Sequence[Ballot]) -> None:
    ids = [b.validator_id for b in ballots]
    if len(set(ids)) != len(ids):
        raise VerificationError("a validator voted twice on one claim")


def _voted(panel: Sequence[Ballot], vote: Vote) -> tuple[str, ...]:
    return tuple(b.validator_id for b in panel if b.vote is vote)


def decide(ballots: Sequence[Ballot], policy: EscalationPolicy = EscalationPolicy()) -> Decision:
    """Decide a claim from the ballots so far (in arrival order)."""
    _check_ballots(ballots)
    failed = tuple(b.validator_id for b in ballots if b.vote is Vote.ABSENT or b.absent_too)
    if any(b.vote is Vote.CLAIM_INVALID for b in ballots):
        return Decision(Status.REJECTED, 0, policy.stages[0], failed)
    counted = [b for b in ballots if b.vote in (Vote.AGREE, Vote.DISAGREE)]
    majority = policy.stages[-1] // 2 + 1
    for index, size in enumerate(policy.stages):
        if len(counted) < size:
            return Decision(Status.PENDING, size - len(counted), size, failed)
        panel = counted[:size]
        agree = sum(1 for b in panel if b.vote is Vote.AGREE)
        last = index == len(policy.stages) - 1
        if agree == size or (last and agree >= majority):
            return Decision(Status.UPHELD, 0, size, failed + _voted(panel, Vote.DISAGREE))
        if size - agree >= majority:
            return Decision(Status.REJECTED, 0, size, failed + _voted(panel, Vote.AGREE))
    raise AssertionError("unreachable: the last stage always decides")


def _voice(validator_id: str, owners: Mapping[str, str]) -> tuple[str, str]:
    """Whose voice a ballot is: its validator's owner, or the key alone if it has none."""
    owner = owners.get(validator_id)
    return ("owner", owner) if owner is not None else ("key", validator_id)


def settle_stalled(
    ballots: Sequence[Ballot],
    policy: EscalationPolicy = EscalationPolicy(),
    owners: Mapping[str, str] | None = None,
    *,
    closes_waited: int = 1,
    min_voices: int = 2,
) -> Decision:
    """Settle at an epoch close a panel that the stages have not decided.

    A network with few workers of distinct owners cannot always seat 3 or 5 validators,
    and an adversary controls when its own seats vote. ``closes_waited`` counts the
    closes the panel has already stood through before this one (0 at the close of its
    claim's epoch). The rule:

    * a panel the stages decided keeps that decision (:func:`decide`);
    * at the close of its claim's epoch it is not settled: it stays pending, so a seat
      drawn late still has a whole epoch to vote (the claimant's earnings stay held);
    * at any later close it is settled on one voice per owner (``owners``: each
      validator's owner, where it has one; the keys of one owner are one voice): when at
      least ``min_voices`` owners voted and every counted ballot agrees, the claim is
      upheld; when every one disagrees, it is rejected; anything else -- fewer voices, or
      any split, within an owner too -- is :attr:`Status.ABANDONED`: counted for no one,
      nobody penalised, the job refunded (:mod:`swarmgen.core.settlement`).

    Why unanimity and not a majority (decision record 0014): a tie that upheld let a
    colluder in a 1--1 split uphold its partner's cheat, and a majority let two colluding
    owners outvote one honest voice and convict an honest key. A split reached at the
    close decides nothing either way; the cheat and the honest claim both lose the job's
    pay, and neither a conviction nor a pass is handed out on a vote the adversary can
    make even.
    """
    decision = decide(ballots, policy)
    if decision.status is not Status.PENDING or closes_waited < 1:
        return decision
    known = owners or {}
    counted = [b for b in ballots if b.vote in (Vote.AGREE, Vote.DISAGREE)]
    voices = {_voice(b.validator_id, known) for b in counted}
    votes = {b.vote for b in counted}
    if len(voices) < min_voices or len(votes) != 1:
        return Decision(Status.ABANDONED, 0, len(counted), ())
    status = Status.UPHELD if votes == {Vote.AGREE} else Status.REJECTED
    return Decision(status, 0, len(counted), decision.penalised)


def rejection_probability(
    p_disagree: float,
    policy: EscalationPolicy = EscalationPolicy(),
    first: Vote | None = None,
) -> float:
    """Probability the panel rejects when each validator disagrees independently w.p. ``p``.

    With ``p`` the calibrated honest false-positive rate of one comparison this is the
    rate at which an honest claim is lost after escalation (under independence); with
    ``p`` a cheat's per-comparison detection rate it is the cheat's detection per check.
    ``first`` fixes the first vote (e.g. the probability of rejection once the first
    validator has disagreed). Computed by walking :func:`decide` over all vote sequences.
    """
    if not 0.0 <= p_disagree <= 1.0:
        raise VerificationError(f"probability {p_disagree} is outside [0, 1]")

    def walk(votes: tuple[Vote, ...], weight: float) -> float:
        ballots = [Ballot(f"v{i}", v) for i, v in enumerate(votes)]
        decision = decide(ballots, policy)
        if decision.status is not Status.PENDING:
            return weight if decision.status is Status.REJECTED else 0.0
        return walk((*votes, Vote.DISAGREE), weight * p_disagree) + walk(
            (*votes, Vote.AGREE), weight * (1.0 - p_disagree)
        )

    return walk((first,), 1.0) if first is not None else walk((), 1.0)


def expected_panel(p_disagree: float, policy: EscalationPolicy = EscalationPolicy()) -> float:
    """Expected re-executions per check when each validator disagrees independently
    w.p. ``p_disagree`` (with the honest false-positive rate: the validation work one
    honest check costs). Walks :func:`decide` as :func:`rejection_probability` does."""
    if not 0.0 <= p_disagree <= 1.0:
        raise VerificationError(f"probability {p_disagree} is outside [0, 1]")

    def walk(votes: tuple[Vote, ...], weight: float) -> float:
        decision = decide([Ballot(f"v{i}", v) for i, v in enumerate(votes)], policy)
        if decision.status is not Status.PENDING:
            return weight * len(votes)
        return walk((*votes, Vote.DISAGREE), weight * p_disagree) + walk(
            (*votes, Vote.AGREE), weight * (1.0 - p_disagree)
        )

    return walk((), 1.0)
