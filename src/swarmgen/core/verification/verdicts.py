"""Epoch verdicts: is a worker's failure count improbable for an honest worker?

Honest workers fail a check now and then (hardware noise pushes a distance over its
threshold). Calibration measures how often: the honest false-positive rate ``p``. Over an
epoch with ``n`` checks an honest worker's failure count follows Binomial(n, p), so a
worker with ``k`` failures is invalid when ``P(X >= k) <= alpha``, the exact upper tail.

:data:`ALPHA` is 1e-6: under the calibrated rate, an honest worker is wrongly declared
invalid with probability at most one in a million per epoch (the exact discrete test
never exceeds its level). With 10,000 workers and hourly epochs that is under one
wrongful verdict a year across the whole network. The guarantee holds only if ``p`` is
not underestimated, so callers pass calibration's upper confidence bound, not the point
estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from swarmgen.core.verification.failures import VerificationError

ALPHA = 1e-6
"""Largest probability per epoch of declaring an honest worker invalid."""

DEFAULT_HONEST_FP = 0.02
"""Honest false-positive rate assumed for an offering that has not been calibrated.

Deliberately pessimistic for the default thresholds (deterministic re-execution on one
kind of hardware rarely mismatches at all): with it, an honest worker is convicted only
by four failed checks out of four, and 1 in 50 honest checks may fail without harm.
"""


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        raise VerificationError(f"probability {p} is outside [0, 1]")


def _log_pmf(i: int, n: int, p: float) -> float:
    return (
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * math.log(p)
        + (n - i) * math.log1p(-p)
    )


def binomial_tail(k: int, n: int, p: float) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p)``, summed exactly term by term.

    The sum runs over whichever side of the distribution is shorter from ``k`` and is
    accurate to floating-point rounding; small tails (the ones verdicts care about) are
    summed directly, never obtained as ``1 - cdf``.
    """
    _check_p(p)
    if n < 0:
        raise VerificationError(f"n={n} is negative")
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    if k > n * p:
        return min(1.0, math.fsum(math.exp(_log_pmf(i, n, p)) for i in range(k, n + 1)))
    below = math.fsum(math.exp(_log_pmf(i, n, p)) for i in range(k))
    return max(0.0, 1.0 - below)


def failures_to_convict(checks: int, honest_fp: float, alpha: float = ALPHA) -> int | None:
    """Fewest failures out of ``checks`` that make a worker invalid, or ``None`` if none do."""
    for k in range(checks + 1):
        if binomial_tail(k, checks, honest_fp) <= alpha:
            return k
    return None


def upper_confidence_bound(failures: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound on a rate observed as ``failures/trials``.

    With no failures in ``trials`` this is about ``3 / trials`` at 95 %: calibration on
    few samples cannot claim a tiny false-positive rate.
    """
    if trials <= 0:
        return 1.0
    if not 0 <= failures <= trials:
        raise VerificationError(f"failures={failures} not within 0..{trials}")
    if failures == trials:
        return 1.0
    tail = 1.0 - confidence
    low, high = failures / trials, 1.0
    for _ in range(100):
        mid = (low + high) / 2
        # P(X <= failures | mid) falls as mid rises; the bound is where it equals ``tail``.
        if 1.0 - binomial_tail(failures + 1, trials, mid) > tail:
            low = mid
        else:
            high = mid
    return high


@dataclass(frozen=True)
class Verdict:
    """An epoch verdict for one worker and the evidence it rests on."""

    checks: int
    failures: int
    honest_fp: float
    alpha: float
    p_value: float
    """``P(X >= failures)`` for an honest worker with ``checks`` checks."""

    @property
    def invalid(self) -> bool:
        """True when the failures are too improbable for an honest worker."""
        return self.failures > 0 and self.p_value <= self.alpha

    def as_evidence(self) -> dict[str, object]:
        return {
            "checks": self.checks,
            "failures": self.failures,
            "honest_fp": self.honest_fp,
            "alpha": self.alpha,
            "p_value": self.p_value,
            "invalid": self.invalid,
        }


def epoch_verdict(checks: int, failures: int, honest_fp: float, alpha: float = ALPHA) -> Verdict:
    """Judge one worker's epoch from its lost checks by an exact binomial test.

    ``honest_fp`` must be in ``(0, 1)``: a rate of zero would turn one unlucky mismatch
    into a conviction, which is what this test exists to prevent.
    """
    if not 0 <= failures <= checks:
        raise VerificationError(f"failures={failures} not within 0..{checks}")
    if not 0.0 < honest_fp < 1.0:
        raise VerificationError(f"honest_fp={honest_fp} must be strictly between 0 and 1")
    if not 0.0 < alpha < 1.0:
        raise VerificationError(f"alpha={alpha} must be strictly between 0 and 1")
    p_value = binomial_tail(failures, checks, honest_fp)
    return Verdict(checks, failures, honest_fp, alpha, p_value)


def standing_invalid(earlier: bool | None, later: bool) -> bool:
    """Whether a worker stands invalid for an epoch once a ``later`` verdict arrives.

    ``earlier`` is the verdict already recorded for that worker and epoch (``None`` when
    there is none). An earlier *invalid* verdict stands: a later one (verification's at
    close, or an operator's) may convict but never clears, so a conviction cannot be
    undone by recording a second, cleaner verdict before the epoch is sealed.
    """
    return later or bool(earlier)
