"""Reliability: how dependably a worker sits the validation seats it takes.

A validation seat whose lease runs out is a *missed* seat, never a failed check: a
worker that crashes, loses its network or is killed must not be convicted of cheating
(the honesty verdict counts only ballots cast). But a seat that expires delays a panel,
and a key that takes seats only to let them lapse could starve checks. So misses cost
something else: reliability, the share of the seats it took that it served, which
scales its share of the epoch's emission, and a worker that misses more than
``max_missed`` seats in an epoch is offered no more seats until the epoch ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from swarmgen.core.credits import PPM

MAX_MISSED_SEATS = 3
"""Default number of missed seats per epoch a worker may have and still be seated."""


@dataclass(frozen=True)
class SeatRecord:
    """A worker's validation seats in one epoch."""

    missed: int = 0
    """Seats whose lease it let expire."""
    served: int = 0
    """Seats it filled with a ballot (any vote: agreeing, disagreeing or failed)."""

    def __post_init__(self) -> None:
        if self.missed < 0 or self.served < 0:
            raise ValueError(f"seat counts must not be negative: {self}")

    @property
    def reliability(self) -> float:
        """``1 - missed / (missed + served)``; 1.0 for a worker that took no seats (it
        was not asked, so nothing counts against it)."""
        taken = self.missed + self.served
        return 1.0 if taken == 0 else 1.0 - self.missed / taken

    @property
    def reliability_ppm(self) -> int:
        """:attr:`reliability` in parts per million, exact (what emission applies)."""
        taken = self.missed + self.served
        return PPM if taken == 0 else PPM - self.missed * PPM // taken


def may_take_seats(missed: int, max_missed: int = MAX_MISSED_SEATS) -> bool:
    """Whether a worker with ``missed`` seats missed this epoch may be offered another."""
    if max_missed < 0:
        raise ValueError(f"max_missed={max_missed} must not be negative")
    return missed <= max_missed


def scaled_weight(weight: int, record: SeatRecord) -> int:
    """An emission weight scaled by the worker's reliability (what emission applies)."""
    return weight * record.reliability_ppm // PPM
