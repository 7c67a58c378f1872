"""Missed validation seats cost reliability and, past a bound, further seats; never honesty."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.verification.reliability import (
    MAX_MISSED_SEATS,
    SeatRecord,
    may_take_seats,
    scaled_weight,
)


def test_reliability_is_the_share_of_taken_seats_that_were_served() -> None:
    assert SeatRecord(missed=1, served=3).reliability == 0.75
    assert SeatRecord(missed=2, served=0).reliability == 0.0
    assert SeatRecord(served=5).reliability == 1.0


def test_a_worker_never_seated_is_fully_reliable() -> None:
    assert SeatRecord().reliability == 1.0


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        SeatRecord(missed=-1)
    with pytest.raises(ValueError):
        may_take_seats(0, -1)


def test_more_than_max_missed_seats_bars_seats_for_the_epoch() -> None:
    assert may_take_seats(MAX_MISSED_SEATS)
    assert not may_take_seats(MAX_MISSED_SEATS + 1)
    assert may_take_seats(0, 0) and not may_take_seats(1, 0)


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10**15))
def test_reliability_is_a_share_and_scales_weight_down_only(
    missed: int, served: int, weight: int
) -> None:
    record = SeatRecord(missed, served)
    assert 0.0 <= record.reliability <= 1.0
    assert 0 <= scaled_weight(weight, record) <= weight
    assert record.reliability_ppm == pytest.approx(record.reliability * 1_000_000, abs=1)
    # missing one more seat never raises reliability: lapsing is never rewarded
    assert SeatRecord(missed + 1, served).reliability <= record.reliability
