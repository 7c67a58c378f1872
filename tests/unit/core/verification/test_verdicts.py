from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.verification.failures import VerificationError
from swarmgen.core.verification.verdicts import (
    ALPHA,
    binomial_tail,
    epoch_verdict,
    failures_to_convict,
    standing_invalid,
    upper_confidence_bound,
)

stats = pytest.importorskip("scipy.stats")

rates = st.floats(1e-9, 1 - 1e-9)


@given(st.integers(0, 300), st.integers(0, 300), rates)
def test_binomial_tail_matches_scipy(k: int, n: int, p: float) -> None:
    expected = float(stats.binom.sf(k - 1, n, p))
    assert binomial_tail(k, n, p) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_binomial_tail_by_hand() -> None:
    assert binomial_tail(1, 2, 0.5) == pytest.approx(0.75)
    assert binomial_tail(2, 2, 0.5) == pytest.approx(0.25)
    assert binomial_tail(0, 10, 0.3) == 1.0
    assert binomial_tail(11, 10, 0.3) == 0.0


@given(st.integers(0, 200), st.integers(0, 200), rates)
def test_more_failures_never_look_more_honest(a: int, b: int, p: float) -> None:
    n = max(a, b)
    low, high = sorted((a, b))
    assert epoch_verdict(n, high, p).p_value <= epoch_verdict(n, low, p).p_value
    assert epoch_verdict(n, low, p).invalid <= epoch_verdict(n, high, p).invalid


@given(st.integers(1, 200), st.integers(0, 200), rates)
def test_more_checks_make_the_same_failures_look_more_honest(n: int, k: int, p: float) -> None:
    k = min(k, n)
    assert epoch_verdict(n + 1, k, p).p_value >= epoch_verdict(n, k, p).p_value


def test_one_unlucky_mismatch_is_not_a_conviction() -> None:
    verdict = epoch_verdict(checks=100, failures=1, honest_fp=1e-3)
    assert not verdict.invalid
    assert verdict.p_value == pytest.approx(1 - (1 - 1e-3) ** 100)


def test_a_cheat_failing_many_checks_is_convicted() -> None:
    verdict = epoch_verdict(checks=100, failures=20, honest_fp=1e-3)
    assert verdict.invalid and verdict.p_value < ALPHA


@pytest.mark.parametrize(("checks", "honest_fp"), [(10, 1e-3), (100, 1e-3), (1000, 1e-2)])
def test_an_honest_worker_is_convicted_at_most_alpha_of_the_time(
    checks: int, honest_fp: float
) -> None:
    k = failures_to_convict(checks, honest_fp)
    assert k is not None
    assert binomial_tail(k, checks, honest_fp) <= ALPHA < binomial_tail(k - 1, checks, honest_fp)
    assert epoch_verdict(checks, k, honest_fp).invalid
    assert not epoch_verdict(checks, k - 1, honest_fp).invalid


def test_no_checks_no_conviction() -> None:
    assert not epoch_verdict(0, 0, 1e-3).invalid
    assert failures_to_convict(0, 1e-3) is None


@pytest.mark.parametrize(
    ("checks", "failures", "fp"), [(5, 6, 0.1), (5, -1, 0.1), (5, 1, 0.0), (5, 1, 1.0)]
)
def test_nonsense_inputs_are_refused(checks: int, failures: int, fp: float) -> None:
    with pytest.raises(VerificationError):
        epoch_verdict(checks, failures, fp)


@given(st.integers(1, 500), st.integers(0, 500))
def test_upper_bound_matches_clopper_pearson(trials: int, failures: int) -> None:
    failures = min(failures, trials)
    bound = upper_confidence_bound(failures, trials)
    expected = (
        1.0 if failures == trials else float(stats.beta.ppf(0.95, failures + 1, trials - failures))
    )
    assert bound == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert bound >= failures / trials


def test_zero_failures_in_a_thousand_is_about_three_per_thousand() -> None:
    assert upper_confidence_bound(0, 1000) == pytest.approx(-math.log(0.05) / 1000, rel=0.01)


@given(st.one_of(st.none(), st.booleans()), st.booleans())
def test_an_earlier_invalid_verdict_stands(earlier: bool | None, later: bool) -> None:
    kept = standing_invalid(earlier, later)
    assert kept is (bool(earlier) or later)
    if earlier:
        assert kept  # a later verdict never clears a conviction


def test_without_an_earlier_verdict_the_later_one_holds() -> None:
    assert standing_invalid(None, True) and not standing_invalid(None, False)
    assert standing_invalid(False, True) and not standing_invalid(False, False)
