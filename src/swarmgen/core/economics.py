"""The economic rule: a cheated job must cost its owner more, in expectation, than it saves.

For one cheated job of price ``P``, counted per owner (all its keys together)::

    p × (F + S) > saved

    p     = r_min × d            probability that the cheat is detected
    r_min = the sampling floor   the lowest rate any key is checked at: best reputation
                                 (an owner's keys share its worst), highest traffic
    d     = detection            the panel's rejection probability at the lowest
                                 per-comparison detection the registry holds for a cheat
                                 that saves compute (precision swaps excluded, see
                                 :func:`lowest_detection`), else :data:`DEFAULT_DETECTION`
    F     = P × (1 − v)          what a detection forfeits at the least: the job's own
                                 earnings, held until its check settles
                                 (``core/settlement.py``); ``v`` the validator fee share
    S     = slash_ppm × min_stake / 10⁶
                                 what a detection burns at the least: a rejected check
                                 slashes ``slash_ppm`` of the claiming key's stake, and
                                 every serving key locks ``min_stake``
    saved = P × σ                σ the largest share of a job's compute a cheat saves
                                 (:data:`MAX_SAVING`, 1.0: not running the job at all)

Both sides are per cheated job, so the rule holds for any number of cheated jobs and
any way of spreading them over keys and epochs: each one is an independent losing bet.
An epoch verdict against the owner (forfeit of all pending earnings, a slash on every
key) only adds to the loss. ``F`` and ``saved`` grow with the price while ``S`` does
not, so at the sampling floor the rule holds for jobs priced below
:meth:`Terms.covered_price`::

    P* = p × S / (σ − p × (1 − v))       (every price when σ ≤ p × (1 − v))

A job priced above ``P*`` is checked at :meth:`Terms.required_rate` instead of the floor
(the coordinator's draw takes the higher of the two), so the rule holds at every price.

Decision record 0015 derives it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from swarmgen.core.credits import PPM
from swarmgen.core.offerings import Precision
from swarmgen.errors import SwarmgenError

DEFAULT_DETECTION = 0.5
"""Per-check detection assumed for an offering whose calibration holds no figure for a
compute-saving cheat. Conservative: calibrated offerings measure 0.96 and above for
every cheat that skips or shortens work (decision record 0006)."""

MAX_SAVING = 1.0
"""Largest share of a job's compute a cheat saves: not running it at all."""

MIN_STAKE = 5_000_000
"""Locked stake (micro-credits) assumed behind every serving key when the settings name
none: 5 credits."""


RATE_MARGIN = 1.25
"""How far above the break-even rate a job priced beyond ``P*`` is checked: the rule is
a strict inequality, and detection figures are estimates."""

FULL_COMPUTE_CHEATS = frozenset({"wrong-seed", "altered-prompt"})
"""Cheats of the zoo that run the whole job, on other inputs: they save no compute, so
their detection figures do not bound this rule."""


class EconomicsError(SwarmgenError):
    """Settings under which some cheat earns more than it risks; the service refuses them."""

    code = "economics_violated"
    status = 500


def is_precision_swap(cheat: str) -> bool:
    """True when ``cheat`` names a precision (``int8``, ``bf16``, ...): running another
    precision than the one declared. Its saving is priced by the tiers, not by stake."""
    try:
        Precision(cheat)
    except ValueError:
        return False
    return True


def lowest_detection(figures: Iterable[Mapping[str, float]]) -> float | None:
    """The lowest per-check detection among cheats that save compute, over ``figures``
    (one ``detection_by_cheat`` table per offering); ``None`` when none is held.

    Left out: :data:`FULL_COMPUTE_CHEATS`, and precision swaps: decision record 0006
    shows that undeclared int8 on an image offering is not separable at a safe
    threshold, so no stake can price it; the registry prices such tiers alike instead.
    """
    found = [
        float(rate)
        for table in figures
        for cheat, rate in table.items()
        if not is_precision_swap(cheat) and cheat not in FULL_COMPUTE_CHEATS
    ]
    return min(found) if found else None


@dataclass(frozen=True)
class Terms:
    """The variables of the rule, each from the settings or the registry."""

    min_sampling_rate: float
    """``r_min``: the sampling floor at best reputation and highest traffic."""
    detection: float
    """``d``: probability that a checked cheat is rejected (by the whole panel)."""
    validator_fee_ppm: int
    """``v`` in ppm: the share of a job's price paid to validators, not to its worker."""
    slash_ppm: int
    """Share of each key's stake burned when its owner is invalid."""
    min_stake: int
    """Stake (micro-credits) every serving key must lock."""
    saving: float = MAX_SAVING
    """``σ``: the largest share of a job's compute a cheat saves."""

    def __post_init__(self) -> None:
        for name in ("min_sampling_rate", "detection", "saving"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0 or math.isnan(value):
                raise EconomicsError(f"{name}={value} is outside [0, 1]", **{name: value})
        for name in ("validator_fee_ppm", "slash_ppm"):
            value = getattr(self, name)
            if not 0 <= value <= PPM:
                raise EconomicsError(f"{name}={value} is outside 0..{PPM}", **{name: value})
        if self.min_stake < 0:
            raise EconomicsError(f"min_stake={self.min_stake} is negative")

    @property
    def check_probability(self) -> float:
        """``p = r_min × d``."""
        return self.min_sampling_rate * self.detection

    @property
    def slash(self) -> int:
        """``S``: micro-credits a detection burns at the least."""
        return self.min_stake * self.slash_ppm // PPM

    def forfeit(self, price: int) -> int:
        """``F``: the job's own earnings, the least a detection forfeits."""
        return price - price * self.validator_fee_ppm // PPM

    def saved(self, price: int) -> float:
        """``saved = P × σ``."""
        return price * self.saving

    def expected_loss(self, price: int) -> float:
        """``p × (F + S)`` for one cheated job of ``price``."""
        return self.check_probability * (self.forfeit(price) + self.slash)

    def holds(self, price: int) -> bool:
        """Whether cheating on a job of ``price`` is a losing bet."""
        return self.expected_loss(price) > self.saved(price)

    def covered_price(self) -> float:
        """``P*``: the rule holds for every job priced below this (``inf``: for all)."""
        p = self.check_probability
        kept = 1.0 - self.validator_fee_ppm / PPM
        margin = self.saving - p * kept
        return math.inf if margin <= 0 else p * self.slash / margin

    def required_rate(self, price: int) -> float:
        """The least sampling rate at which cheating on a job of ``price`` is a losing
        bet, with :data:`RATE_MARGIN` to spare: ``r × d × (F + S) > saved`` solved for
        ``r`` (1.0 when even a sure check cannot price it). Below :meth:`covered_price`
        it is under the sampling floor; above, the coordinator checks such a job at this
        rate instead, so the rule holds for every price, not only up to ``P*``."""
        at_stake = self.detection * (self.forfeit(price) + self.slash)
        if at_stake <= 0:
            return 1.0
        return min(1.0, RATE_MARGIN * self.saved(price) / at_stake)

    def describe(self, price: int) -> str:
        """The rule with its values filled in, for error messages and reports."""
        return (
            f"p × (F + S) = {self.min_sampling_rate:g} × {self.detection:g} × "
            f"({self.forfeit(price)} + {self.slash}) = {self.expected_loss(price):.0f} "
            f"vs saved = {price} × {self.saving:g} = {self.saved(price):.0f} "
            f"(slash_ppm={self.slash_ppm}, min_stake={self.min_stake}, "
            f"validator_fee_ppm={self.validator_fee_ppm}; covered up to a job price of "
            f"{self.covered_price():.0f})"
        )

    def require(self, price: int, what: str) -> None:
        """Raise :class:`EconomicsError` naming every value unless the rule holds."""
        if not self.holds(price):
            raise EconomicsError(
                f"cheating pays on {what}: {self.describe(price)}; raise slash_ppm or min_stake",
                price=price,
                min_sampling_rate=self.min_sampling_rate,
                detection=self.detection,
                slash_ppm=self.slash_ppm,
                min_stake=self.min_stake,
                validator_fee_ppm=self.validator_fee_ppm,
            )
