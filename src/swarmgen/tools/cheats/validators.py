"""Validators, honest and not, and a panel that runs them through the escalation rules.

A validator is handed a claim to check as a thunk: calling it re-executes the job and
compares (the expensive, honest part). An honest validator calls it; a lazy one never
does and always agrees; a colluding one agrees with its accomplices and is honest with
everyone else, which is the cheapest way not to get caught itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from swarmgen.core.verification.escalation import (
    Ballot,
    Decision,
    EscalationPolicy,
    Status,
    ballot_of,
    decide,
)
from swarmgen.core.verification.failures import Comparison, Outcome

Check = Callable[[], Comparison]
"""Re-executes the claimed job and compares it with the claim."""

AGREED = Comparison(Outcome.AGREE, "within_thresholds", "", 0.0)
"""What a validator that does not look reports: a plain agreement."""


class Validator(Protocol):
    """Something that votes on a claim."""

    validator_id: str

    def judge(self, claimant_id: str, check: Check) -> Comparison:
        """This validator's finding on ``claimant_id``'s claim."""
        ...


@dataclass(frozen=True)
class HonestValidator:
    """Re-executes every claim it is given."""

    validator_id: str

    def judge(self, claimant_id: str, check: Check) -> Comparison:
        return check()


@dataclass(frozen=True)
class LazyValidator:
    """Always agrees without re-executing: earns validation fees for no work."""

    validator_id: str

    def judge(self, claimant_id: str, check: Check) -> Comparison:
        return AGREED


@dataclass(frozen=True)
class ColludingValidator:
    """Agrees with the named cheaters, checks everyone else honestly."""

    validator_id: str
    accomplices: frozenset[str] = field(default_factory=frozenset)

    def judge(self, claimant_id: str, check: Check) -> Comparison:
        return AGREED if claimant_id in self.accomplices else check()


def run_panel(
    claimant_id: str,
    check: Check,
    validators: Sequence[Validator],
    policy: EscalationPolicy | None = None,
) -> Decision:
    """Ask ``validators`` in order, as many as the escalation needs, and decide.

    Every honest validator's ``check`` gives the same result, so it is run at most once
    and its result reused. Raises ``ValueError`` when the panel runs out of validators.
    """
    policy = policy or EscalationPolicy()
    memo: list[Comparison] = []

    def once() -> Comparison:
        if not memo:
            memo.append(check())
        return memo[0]

    ballots: list[Ballot] = []
    queue = list(validators)
    decision = decide(ballots, policy)
    while decision.status is Status.PENDING:
        for _ in range(decision.needed):
            if not queue:
                raise ValueError(f"panel needs {decision.needed} more validators")
            validator = queue.pop(0)
            ballots.append(ballot_of(validator.validator_id, validator.judge(claimant_id, once)))
        decision = decide(ballots, policy)
    return decision
