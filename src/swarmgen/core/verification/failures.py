"""Fail closed: a missing or broken artifact is a loss for whoever owed it.

Every comparison takes ``Artifact | Failure`` for both sides and returns a
:class:`Comparison`. Only :attr:`Outcome.AGREE` passes; a :class:`Failure` on either side
can never produce it, so a timeout, a validator crash or an unreadable PNG is never
mistaken for agreement.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from swarmgen.errors import SwarmgenError


class VerificationError(SwarmgenError):
    """A verification rule was called with arguments that make no sense (a caller bug)."""

    code = "verification_error"


class FailureKind(StrEnum):
    """Why an artifact is not there to compare."""

    MISSING = "missing"
    """Nothing arrived."""
    EMPTY = "empty"
    """Something arrived but it holds no content (no bytes, no tokens)."""
    MALFORMED = "malformed"
    """The content cannot be decoded or breaks the artifact's rules."""
    ERROR = "error"
    """The party reported an error instead of an artifact."""
    TIMEOUT = "timeout"
    """The party did not answer within its lease."""


@dataclass(frozen=True)
class Failure:
    """The absence of an artifact, with the reason; it always loses a comparison."""

    kind: FailureKind
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value


class Outcome(StrEnum):
    """The result of comparing a claimed artifact with a validator's."""

    AGREE = "agree"
    """Both artifacts exist and are within the offering's thresholds: the check passes."""
    DISAGREE = "disagree"
    """Both artifacts exist and differ beyond the thresholds."""
    CLAIM_FAILED = "claim_failed"
    """The checked worker's artifact is missing or malformed: the claim loses."""
    VALIDATOR_FAILED = "validator_failed"
    """The validator's artifact is missing or malformed: the validator loses its vote."""
    BOTH_FAILED = "both_failed"
    """Neither side produced a usable artifact: both lose."""

    @property
    def claim_lost(self) -> bool:
        """True when the checked worker is at fault regardless of any panel."""
        return self in (Outcome.CLAIM_FAILED, Outcome.BOTH_FAILED)

    @property
    def validator_lost(self) -> bool:
        """True when the validator is at fault regardless of the claim."""
        return self in (Outcome.VALIDATOR_FAILED, Outcome.BOTH_FAILED)


@dataclass(frozen=True)
class Comparison:
    """What one comparison decided and why.

    ``reason`` is a stable short code (``"phash"``, ``"token_outside_top_k"``, ...) fit
    for ledger evidence; ``detail`` is for people. ``distance`` is the comparison's score
    where one exists: for images the largest metric-to-threshold ratio (above 1 fails),
    for text the logprob distance.
    """

    outcome: Outcome
    reason: str
    detail: str = ""
    distance: float | None = None

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.AGREE


def gate(claimed: object, reference: object) -> Comparison | None:
    """The fail-closed part of every comparison.

    Returns the losing :class:`Comparison` when either side is a :class:`Failure`, and
    ``None`` when both artifacts exist and the caller must compare their contents.
    """
    if isinstance(claimed, Failure) and isinstance(reference, Failure):
        detail = f"claim {claimed}; validator {reference}"
        return Comparison(Outcome.BOTH_FAILED, "both_failed", detail)
    if isinstance(claimed, Failure):
        return Comparison(Outcome.CLAIM_FAILED, claimed.kind.value, str(claimed))
    if isinstance(reference, Failure):
        return Comparison(Outcome.VALIDATOR_FAILED, reference.kind.value, str(reference))
    return None
