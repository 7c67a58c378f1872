"""A pop that finds only validation seats is held like an ordinary pop would wait."""

from __future__ import annotations

import random

from swarmgen.coordinator.pacing import PopPace


def test_nothing_is_held_before_an_ordinary_pop_was_seen_or_without_budget() -> None:
    pace = PopPace()
    assert pace.hold(0.0, 30.0) == 0.0
    pace.note(2.0)
    assert pace.hold(0.0, 0.0) == 0.0


def test_the_hold_is_a_recent_ordinary_duration_less_what_has_passed_within_budget() -> None:
    pace = PopPace(rng=random.Random(1))
    for seconds in (0.5, 1.0, 1.5):
        pace.note(seconds)
    holds = {pace.hold(0.25, 30.0) for _ in range(200)}
    assert holds == {0.25, 0.75, 1.25}
    assert max(pace.hold(0.25, 0.5) for _ in range(200)) == 0.5  # never past the pop's wait
    assert pace.hold(5.0, 30.0) == 0.0  # already slower than any ordinary pop


def test_held_seat_pops_take_what_ordinary_pops_take() -> None:
    rng = random.Random(7)
    ordinary = [rng.expovariate(2.0) for _ in range(2_000)]
    pace = PopPace(window=2_000, rng=random.Random(8))
    for seconds in ordinary:
        pace.note(seconds)
    seats = sorted(0.01 + pace.hold(0.01, 60.0) for _ in range(2_000))
    quantiles = [int(q * len(seats)) for q in (0.1, 0.25, 0.5, 0.75, 0.9)]
    reference = sorted(max(s, 0.01) for s in ordinary)
    for i in quantiles:
        assert abs(seats[i] - reference[i]) < 0.08


def test_the_window_forgets_old_pops() -> None:
    pace = PopPace(window=2)
    for seconds in (9.0, 1.0, 1.0):
        pace.note(seconds)
    assert {pace.hold(0.0, 30.0) for _ in range(50)} == {1.0}
