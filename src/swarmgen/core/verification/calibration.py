"""Fitting verification thresholds from measured honest and cheat distances.

Calibration re-runs an offering honestly under varied conditions (thread counts, batch
composition, separate processes) and under each cheat, and hands the distances here. A
threshold is the smallest value that keeps the share of honest pairs above it within the
false-positive budget, widened by a safety ``margin`` for conditions the measurement did
not cover and never below a ``floor``. The fitted thresholds carry what they achieved on
the samples: the honest false-positive rate, its 95 % upper bound, and the detection rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from swarmgen.core.verification.failures import VerificationError
from swarmgen.core.verification.imagecheck import (
    METRICS,
    ImageDistance,
    ImageThresholds,
    rejects,
)
from swarmgen.core.verification.verdicts import upper_confidence_bound

DEFAULT_MARGIN = 1.25
"""Factor applied to the fitted honest quantile to allow for unmeasured hardware noise."""

IMAGE_FLOORS: Mapping[str, float] = {
    "phash": 2 / 64,
    "phash16": 4 / 256,
    "dhash": 2 / 64,
    "whash": 2 / 64,
    "pixel": 0.005,
    "changed": 0.01,
}
"""Smallest image thresholds: a couple of hash bits, half a percent of pixel range, and
one pixel in a hundred changed.

Bit-identical honest runs on one machine would otherwise fit a threshold of zero, which
any other machine's rounding noise would exceed. Rounding alone moves a pixel by one
level (the same jobs in float64 change no pixel by more than that), inside the changed
share's dead zone, so its floor allows for something rarer: a kernel that rounds
differently enough to flip a few pixels on an edge (decision record 0006).
"""


@dataclass(frozen=True)
class FittedThreshold:
    """One fitted upper threshold and what it achieved on the calibration samples."""

    value: float
    false_positive: float
    false_positive_bound: float
    detection: float
    honest_samples: int
    cheat_samples: int


def honest_quantile(values: Sequence[float], budget: float) -> float:
    """The smallest sample value ``t`` with at most ``budget`` of ``values`` above it."""
    if not values:
        raise VerificationError("no honest samples to calibrate from")
    if not 0.0 <= budget < 1.0:
        raise VerificationError(f"false-positive budget {budget} is outside [0, 1)")
    ordered = sorted(values)
    allowed_above = math.floor(budget * len(ordered))
    return ordered[len(ordered) - 1 - allowed_above]


def _rate(count: int, total: int) -> float:
    return count / total if total else 0.0


def fit_threshold(
    honest: Sequence[float],
    cheat: Sequence[float],
    max_fp: float,
    margin: float = DEFAULT_MARGIN,
    floor: float = 0.0,
) -> FittedThreshold:
    """Fit one scalar threshold (a distance above it fails), e.g. the text logprob distance."""
    value = max(honest_quantile(honest, max_fp) * margin, floor)
    false = sum(1 for d in honest if d > value)
    caught = sum(1 for d in cheat if d > value)
    return FittedThreshold(
        value=value,
        false_positive=_rate(false, len(honest)),
        false_positive_bound=upper_confidence_bound(false, len(honest)),
        detection=_rate(caught, len(cheat)),
        honest_samples=len(honest),
        cheat_samples=len(cheat),
    )


def rejected_share(distances: Sequence[ImageDistance], thresholds: ImageThresholds) -> float:
    """The share of ``distances`` the decision rule, :func:`~.imagecheck.rejects`, rejects."""
    return _rate(sum(1 for d in distances if rejects(d, thresholds)), len(distances))


def fit_thresholds(
    honest: Sequence[ImageDistance],
    cheat: Sequence[ImageDistance],
    max_fp: float,
    margin: float = DEFAULT_MARGIN,
    floors: Mapping[str, float] = IMAGE_FLOORS,
) -> ImageThresholds:
    """Fit image thresholds so that at most ``max_fp`` of honest pairs fail.

    Each metric's threshold alone is held to an even share of the budget (a union bound,
    conservative since one hash alone does not reject); the reported rates are then
    measured on the decision rule itself, :func:`~.imagecheck.rejects`.
    """
    budget = max_fp / len(METRICS)
    limits = {
        name: min(
            1.0,
            max(
                honest_quantile([getattr(d, name) for d in honest], budget) * margin,
                floors.get(name, 0.0),
            ),
        )
        for name in METRICS
    }
    probe = ImageThresholds.from_mapping(limits)
    false = sum(1 for d in honest if rejects(d, probe))
    return replace(
        probe,
        false_positive=_rate(false, len(honest)),
        false_positive_bound=upper_confidence_bound(false, len(honest)),
        detection=rejected_share(cheat, probe) if cheat else None,
        honest_samples=len(honest),
        cheat_samples=len(cheat),
    )
