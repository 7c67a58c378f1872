from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmgen.core.verification.failures import VerificationError
from swarmgen.core.verification.sampling import (
    SamplingPolicy,
    audit_sampling,
    commitment,
    draw,
    effective_floor,
    must_check,
    reputation_after,
    sampling_rate,
)

POLICY = SamplingPolicy()
SEED = bytes(range(32))
reputations = st.floats(0.0, 1.0)


def test_a_new_worker_has_every_job_checked() -> None:
    assert sampling_rate(0.0, POLICY.normal_traffic, POLICY) == 1.0


def test_a_long_standing_worker_is_checked_at_about_the_floor() -> None:
    reputation = 0.0
    for _ in range(60):
        reputation = reputation_after(reputation, clean=True, policy=POLICY)
    rate = sampling_rate(reputation, POLICY.normal_traffic, POLICY)
    assert rate == pytest.approx(POLICY.floor, abs=POLICY.floor * 0.01)


def test_one_dirty_epoch_resets_reputation() -> None:
    assert reputation_after(0.9, clean=False, policy=POLICY) == 0.0


@given(reputations, st.booleans())
def test_reputation_stays_in_the_unit_interval(prev: float, clean: bool) -> None:
    after = reputation_after(prev, clean, POLICY)
    assert 0.0 <= after <= 1.0
    assert (after >= prev) if clean else after == 0.0


@given(reputations, reputations, st.integers(0, 5000))
def test_rate_falls_as_reputation_rises(a: float, b: float, traffic: int) -> None:
    low, high = sorted((a, b))
    assert sampling_rate(high, traffic, POLICY) <= sampling_rate(low, traffic, POLICY)
    assert effective_floor(traffic, POLICY) <= sampling_rate(high, traffic, POLICY) <= 1.0


@given(st.integers(0, 5000), st.integers(0, 5000))
def test_floor_rises_when_traffic_falls(a: int, b: int) -> None:
    quiet, busy = sorted((a, b))
    assert effective_floor(quiet, POLICY) >= effective_floor(busy, POLICY)
    assert effective_floor(0, POLICY) == POLICY.low_traffic_floor
    assert effective_floor(POLICY.normal_traffic, POLICY) == POLICY.floor


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5])
def test_must_check_frequency_matches_the_rate(rate: float) -> None:
    n = 20_000
    hits = sum(must_check(SEED, f"job-{i}", rate) for i in range(n))
    tolerance = 5 * math.sqrt(n * rate * (1 - rate))
    assert abs(hits - n * rate) <= tolerance


@settings(max_examples=50)
@given(st.binary(min_size=1, max_size=40), st.text(max_size=30))
def test_draw_is_deterministic_and_in_range(seed: bytes, job_id: str) -> None:
    value = draw(seed, job_id)
    assert value == draw(seed, job_id)
    assert 0.0 <= value < 1.0
    assert must_check(seed, job_id, 1.0)
    assert not must_check(seed, job_id, 0.0)


@given(st.binary(min_size=1, max_size=40), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_a_job_checked_at_a_rate_is_checked_at_any_higher_rate(
    seed: bytes, a: float, b: float
) -> None:
    low, high = sorted((a, b))
    assert not must_check(seed, "j", low) or must_check(seed, "j", high)


def test_the_draw_depends_on_the_seed() -> None:
    first = [must_check(SEED, f"job-{i}", 0.5) for i in range(64)]
    second = [must_check(b"another seed", f"job-{i}", 0.5) for i in range(64)]
    assert first != second


def _epoch(rate: float = 0.3) -> list[tuple[str, float]]:
    return [(f"job-{i}", rate) for i in range(200)]


def test_an_honest_epoch_passes_the_audit() -> None:
    jobs = _epoch()
    checked = {job for job, rate in jobs if must_check(SEED, job, rate)}
    report = audit_sampling(SEED, commitment(SEED), jobs, checked)
    assert report.ok
    assert set(report.required) == checked and not report.unexpected


def test_a_skipped_check_is_found() -> None:
    jobs = _epoch()
    checked = {job for job, rate in jobs if must_check(SEED, job, rate)}
    skipped = sorted(checked)[0]
    report = audit_sampling(SEED, commitment(SEED), jobs, checked - {skipped})
    assert not report.ok and report.missing == (skipped,)


def test_a_seed_that_does_not_match_its_commitment_fails() -> None:
    jobs = _epoch()
    checked = {job for job, rate in jobs if must_check(SEED, job, rate)}
    report = audit_sampling(b"swapped seed", commitment(SEED), jobs, checked)
    assert not report.commitment_matches and not report.ok


def test_extra_checks_are_reported() -> None:
    jobs = _epoch(rate=0.0)
    report = audit_sampling(SEED, commitment(SEED), jobs, {"job-3"})
    assert report.ok and report.unexpected == ("job-3",)


def test_commitment_is_the_sha256_of_the_seed() -> None:
    assert commitment(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize(
    "kwargs",
    [{"floor": -0.1}, {"floor": 0.5, "low_traffic_floor": 0.2}, {"normal_traffic": 0}],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(VerificationError):
        SamplingPolicy(**kwargs)  # type: ignore[arg-type]
