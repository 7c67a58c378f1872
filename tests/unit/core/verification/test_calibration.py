from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.verification.calibration import (
    IMAGE_FLOORS,
    fit_threshold,
    fit_thresholds,
    honest_quantile,
    rejected_share,
)
from swarmgen.core.verification.failures import VerificationError
from swarmgen.core.verification.imagecheck import (
    METRICS,
    ImageDistance,
    ImageThresholds,
    rejects,
)


def distance(value: float, pixel: float | None = None) -> ImageDistance:
    return ImageDistance(value, value, value, value, value if pixel is None else pixel, value)


def test_quantile_leaves_at_most_the_budget_above() -> None:
    values = [i / 100 for i in range(100)]
    assert honest_quantile(values, 0.0) == max(values)
    assert honest_quantile(values, 0.05) == values[94]


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=200), st.floats(0.0, 0.5))
def test_quantile_meets_its_budget(values: list[float], budget: float) -> None:
    cut = honest_quantile(values, budget)
    assert sum(1 for v in values if v > cut) <= budget * len(values)


def test_fit_separates_honest_from_cheat_and_reports_the_rates() -> None:
    honest = [distance(i / 1000) for i in range(100)]
    cheat = [distance(0.3 + i / 1000) for i in range(50)] + [distance(0.05)]
    fitted = fit_thresholds(honest, cheat, max_fp=0.0, margin=1.0)
    for name in METRICS:
        assert fitted.limit(name) >= max(getattr(d, name) for d in honest)
    assert fitted.false_positive == 0.0
    assert fitted.detection == pytest.approx(50 / 51)
    assert fitted.false_positive_bound == pytest.approx(0.0295, abs=0.001)
    assert (fitted.honest_samples, fitted.cheat_samples) == (100, 51)


@given(
    st.lists(st.floats(0.0, 0.5), min_size=5, max_size=60),
    st.lists(st.floats(0.0, 1.0), max_size=60),
    st.sampled_from([0.0, 0.01, 0.1]),
)
def test_measured_rates_agree_with_the_fitted_rule(
    honest_values: list[float], cheat_values: list[float], max_fp: float
) -> None:
    honest = [distance(v) for v in honest_values]
    cheat = [distance(v) for v in cheat_values]
    fitted = fit_thresholds(honest, cheat, max_fp)
    rejected = sum(1 for d in honest if rejects(d, fitted))
    assert fitted.false_positive == rejected / len(honest)
    assert fitted.false_positive <= max_fp
    if cheat:
        caught = sum(1 for d in cheat if rejects(d, fitted))
        assert fitted.detection == caught / len(cheat)


def test_rejected_share_counts_what_the_rule_rejects_not_any_metric_past_its_limit() -> None:
    limits = ImageThresholds(phash=2 / 64, phash16=4 / 256, dhash=2 / 64, whash=2 / 64)
    one_hash = ImageDistance(0.0, 0.0, 0.0, 3 / 64, 0.0, 0.0)
    two_hashes = ImageDistance(3 / 64, 0.0, 0.0, 3 / 64, 0.0, 0.0)
    assert rejected_share([one_hash, two_hashes], limits) == 0.5
    assert rejected_share([], limits) == 0.0


def test_bit_identical_honest_runs_still_get_the_floor() -> None:
    fitted = fit_thresholds([distance(0.0)] * 20, [], max_fp=0.001)
    for name in METRICS:
        assert fitted.limit(name) == IMAGE_FLOORS[name]
    assert fitted.detection is None


def test_scalar_fit_for_text_distances() -> None:
    fitted = fit_threshold([0.001, 0.002, 0.003], [0.2, 0.0025], max_fp=0.0, margin=1.0)
    assert fitted.value == 0.003
    assert fitted.detection == 0.5
    assert fitted.false_positive == 0.0


def test_no_honest_samples_is_an_error() -> None:
    with pytest.raises(VerificationError):
        fit_threshold([], [0.5], max_fp=0.01)
