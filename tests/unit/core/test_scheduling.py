from __future__ import annotations

import math
import random
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.jobs import ImageSpec, TextSpec
from swarmgen.core.offerings import Offering
from swarmgen.core.scheduling import (
    HOLD_CUT,
    LEASE_MAX_S,
    LEASE_MIN_S,
    MAX_AGING_POINTS_PER_S,
    SEAT_SHARE,
    Capabilities,
    Pace,
    QueuedJob,
    SeatTurn,
    choose,
    draw_hold_ms,
    draw_places,
    fair_share,
    fits,
    hand_out,
    lease_ttl_s,
    queue_key,
    share_lookahead,
)

IMG = Offering.parse("shapes-64@fp32")
TXT = Offering.parse("smollm2-135m@fp32")
CAPS = Capabilities(offerings=frozenset({IMG, TXT}), max_pixels=64 * 64, max_batch=2)


def job(i: str, offering: Offering = IMG, pixels: int = 4096, priority: int = 0, t: int = 0):  # type: ignore[no-untyped-def]
    return QueuedJob(i, offering, pixels, priority, t)


def test_fits_by_offering_and_size() -> None:
    assert fits(job("a"), CAPS)
    assert not fits(job("b", pixels=128 * 128), CAPS)
    assert not fits(job("c", Offering.parse("shapes-64@int8")), CAPS)


def test_choose_orders_by_priority_then_age_and_caps_the_batch() -> None:
    queue = [
        job("old", t=1),
        job("new", t=5),
        job("vip", priority=3, t=9),
        job("big", t=0, pixels=10**6),
    ]
    assert choose(queue, CAPS) == ["vip", "old"]
    assert choose(queue, CAPS, limit=1) == ["vip"]


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 100)), max_size=20))
def test_choose_never_skips_a_better_job(entries: list[tuple[int, int]]) -> None:
    queue = [job(f"j{i}", priority=p, t=t) for i, (p, t) in enumerate(entries)]
    chosen = choose(queue, CAPS)
    rest = [j for j in queue if j.id not in chosen]
    for picked in (j for j in queue if j.id in chosen):
        for other in rest:
            assert (-picked.priority, picked.created_ms) <= (-other.priority, other.created_ms)


@given(st.integers(1, 50), st.sampled_from([64, 512, 1024]), st.integers(1, 4), st.integers(1, 512))
def test_lease_grows_with_size_within_bounds(steps: int, side: int, n: int, tokens: int) -> None:
    small = lease_ttl_s(ImageSpec(prompt="x", steps=steps, width=side, height=side, n=1))
    big = lease_ttl_s(ImageSpec(prompt="x", steps=steps, width=side, height=side, n=n))
    assert LEASE_MIN_S <= small <= big <= LEASE_MAX_S
    assert LEASE_MIN_S <= lease_ttl_s(TextSpec(prompt="x", max_tokens=tokens)) <= LEASE_MAX_S
    assert lease_ttl_s(TextSpec(prompt="x", max_tokens=512)) > lease_ttl_s(
        TextSpec(prompt="x", max_tokens=1)
    )
    assert lease_ttl_s(ImageSpec(prompt="x"), min_s=2) < LEASE_MIN_S


# hand_out: seats only in place of ordinary jobs due -----------------------------------

ids = st.lists(st.text("0123456789abcdef", min_size=4, max_size=4), unique=True, max_size=6)
coins = st.lists(st.booleans(), max_size=6).map(tuple)
places = st.none() | coins


@given(ids, ids, st.integers(0, 5), places, st.booleans(), st.integers(1, 5))
def test_hand_out_never_leases_more_than_the_limit_nor_what_was_not_offered(
    ordinary: list[str],
    seats: list[str],
    limit: int,
    coins: tuple[bool, ...] | None,
    overdue: bool,
    sharing: int,
) -> None:
    seats = ["S" + s for s in seats]  # disjoint from the ordinary ids
    chosen = hand_out(ordinary, seats, limit, SeatTurn(coins, overdue), sharing)
    assert len(chosen) == len(set(chosen)) <= limit
    assert set(chosen) <= set(ordinary) | set(seats)
    assert chosen == sorted(chosen)  # id order: nothing says which is which


@given(ids, ids, st.integers(1, 5), coins, st.booleans())
def test_a_seat_goes_out_only_in_a_place_of_an_ordinary_job_due_that_its_coin_gives_it(
    ordinary: list[str], seats: list[str], limit: int, coins: tuple[bool, ...], late: bool
) -> None:
    seats = ["S" + s for s in seats]
    chosen = hand_out(ordinary, seats, limit, SeatTurn(coins, overdue=late and bool(ordinary)))
    given_seats = [i for i in chosen if i in seats]
    # the lease is exactly as long as the ordinary one would have been
    assert len(chosen) == min(len(ordinary), limit)
    room = min(len(ordinary), limit)
    free = sum(coins[:room])
    assert len(given_seats) == min(len(seats), free)
    if not ordinary:
        assert chosen == []  # nothing due, not overdue: the seat waits, the pop returns nothing
    # the seats take the places of the worst ordinary jobs, which stay queued
    kept = [i for i in chosen if i not in seats]
    assert kept == sorted(ordinary[: len(kept)])


def test_an_overdue_worker_gets_its_seats_as_it_would_get_ordinary_jobs() -> None:
    """With nothing ordinary due, an overdue worker's seats go out as an equal number of
    ordinary jobs queued for it would: its fair share among the workers waiting."""
    late = SeatTurn((), overdue=True)
    seats = ["S1", "S2", "S3", "S4"]
    for sharing in (1, 2, 3, 5):
        for count in range(5):
            expected = fair_share(count, 4, sharing)  # ordinary jobs it would lease
            assert len(hand_out([], seats[:count], 4, late, sharing)) == expected
    assert hand_out([], ["S1", "S2"], 1, late) == ["S1"]
    assert hand_out(["b", "a"], ["S1"], 2, SeatTurn((True, False), overdue=True)) == ["S1", "b"]
    assert hand_out([], ["S1"], 4, SeatTurn((True,), overdue=False)) == []
    unpaced = SeatTurn(None, overdue=True)  # ANY_TIME: seats first, ordinary in the room left
    assert hand_out(["b", "a"], ["S1"], 2, unpaced) == ["S1", "b"]
    assert hand_out([], ["S1", "S2"], 4, unpaced, sharing=2) == ["S1", "S2"]


def _leases(rng: random.Random, pops: int) -> list[tuple[int, bool]]:
    """A worker with seats always drawn for it popping ``pops`` times as the coordinator does
    (coins, pace), finding 1 to 4 ordinary jobs due each time; per job leased, the
    lease's length and whether the job is a seat."""
    pace, now, out, next_seat = Pace(), 0, [], 0
    for pop in range(pops):
        now += 1_000
        turn = pace.turn(now, draw_places(rng, 4))
        due = [f"o{pop:05d}-{n}" for n in range(rng.randint(1, 4))]
        waiting = [f"S{n:06d}" for n in range(next_seat, next_seat + 4)]
        chosen = hand_out(due, waiting, 4, turn)
        taken = [i for i in chosen if i.startswith("S")]
        next_seat += len(taken)
        out += [(len(chosen), i.startswith("S")) for i in chosen]
        pace = pace.after(now, turn, len(taken), len(chosen) - len(taken), 5_000)
    return out


def test_every_job_of_a_lease_is_a_seat_as_often_whatever_the_lease_s_length() -> None:
    """With seats waiting, the share of seats among the jobs of leases of each length
    is the same (:data:`SEAT_SHARE`): a lease's length, a job's place in it and the
    heartbeat's count (the lease's length) say nothing. (A credit earned per ordinary
    job and spent per seat put seats in 73 % of one-job leases and 35 % of four-job
    ones in ``bench/adversary.py``.)"""
    leased = _leases(random.Random(7), 20_000)
    for length in (1, 2, 3, 4):
        mine = [seat for n, seat in leased if n == length]
        assert abs(sum(mine) / len(mine) - SEAT_SHARE) < 0.02, length


def test_seats_take_about_half_the_places_so_ordinary_work_still_runs() -> None:
    """A worker drawn onto every panel (a small network) still runs ordinary jobs: over
    a long run with ordinary work due, seats take about :data:`SEAT_SHARE` of the
    places; the coins are the coordinator's, the rule deterministic given them."""
    leased = _leases(random.Random(8), 20_000)
    share = sum(seat for _, seat in leased) / len(leased)
    assert abs(share - SEAT_SHARE) < 0.01
    assert draw_places(random.Random(1), 3) == draw_places(random.Random(1), 3)
    assert len(draw_places(random.Random(1), 0)) == 0


def test_pace_holds_seats_for_an_idle_worker_from_when_it_went_idle() -> None:
    pace = Pace()
    assert not pace.turn(0, None).overdue  # never idle yet: the seat waits
    waiting = SeatTurn(None, overdue=False)
    pace = pace.after(1_000, waiting, seats=0, ordinary=0, hold_ms=5_000)  # idle from 1 s
    later = pace.after(3_000, waiting, 0, 0, hold_ms=99)  # still idle, the same hold
    assert later == pace and pace.idle_since_ms == 1_000 and pace.due_ms == 6_000
    assert not pace.turn(5_999, None).overdue
    overdue = pace.turn(6_000, None)
    assert overdue.overdue
    seated = pace.after(6_000, overdue, seats=2, ordinary=0, hold_ms=5_000)  # seats alone:
    assert seated.turn(6_500, None).overdue  # still overdue
    busy = pace.after(6_000, overdue, seats=0, ordinary=1, hold_ms=5_000)  # work: hold restarts
    assert busy.idle_since_ms is None and not busy.turn(60_000, None).overdue
    now = Pace().after(0, waiting, 0, 0, hold_ms=0)
    assert now.turn(0, None).overdue  # no hold: at once


def test_the_hold_is_memoryless_so_when_a_seat_comes_says_nothing() -> None:
    """Holds are exponential: having waited 5 s, a worker is as far from its seat as
    at the start of its idle spell. (A fixed hold made a job that arrives exactly then
    a seat.)"""
    rng = random.Random(3)
    holds = [draw_hold_ms(rng, 5_000) for _ in range(40_000)]
    assert abs(sum(holds) / len(holds) - 5_000) < 150
    assert max(holds) <= HOLD_CUT * 5_000
    for waited in (1_000, 5_000):
        left = [h - waited for h in holds if h > waited]
        assert abs(sum(left) / len(left) - 5_000) < 250, waited
        assert abs(sum(h <= 2_000 for h in left) / len(left) - (1 - math.exp(-0.4))) < 0.02
    assert draw_hold_ms(rng, 0) == 0


@given(st.integers(0, 200), st.integers(1, 8), st.integers(1, 40), st.integers(0, 40))
def test_workers_waiting_together_share_a_short_queue_and_take_it_all(
    queued: int, limit: int, sharing: int, overcount: int
) -> None:
    """Waiting pops lease in turn, each counting itself and those not yet served (and
    perhaps some already served: a pop leaves the count only once its lease returned)."""
    left, parts = queued, []
    for served in range(sharing):
        counted = sharing - served + min(overcount, served)
        found = min(left, share_lookahead(limit, counted))
        take = fair_share(found, limit, counted)
        assert 0 <= take <= min(limit, left)
        parts.append(take)
        left -= take
    if queued >= sharing:  # a job for every worker waiting
        assert all(parts), parts
    if overcount == 0 and queued <= limit * min(sharing, 16):  # nothing left behind
        assert left == 0 or all(p == limit for p in parts), parts


def test_a_deep_queue_gives_every_pop_a_full_batch() -> None:
    assert fair_share(share_lookahead(4, 16), 4, 16) == 4
    assert share_lookahead(4, 1000) == 4 * 16
    # past 16 waiting, a pop sees 16 batches: it leaves one job for each other waiter
    assert fair_share(share_lookahead(2, 32), 2, 32) == 1
    assert fair_share(share_lookahead(4, 20), 4, 20) == 4
    assert fair_share(share_lookahead(4, 1000), 4, 1000) == 1
    assert fair_share(10, 4, 4) == 3
    assert fair_share(3, 4, 1) == 3
    assert fair_share(0, 4, 3) == 0


@given(
    st.lists(st.tuples(st.integers(-(10**5), 10**5), st.integers(0, 9 * 10**12)), min_size=2),
    st.integers(0, MAX_AGING_POINTS_PER_S),
    st.integers(0, 10**6),
)
def test_queue_key_orders_as_priority_plus_waiting_at_any_time(
    jobs: list[tuple[int, int]], aging: int, later_ms: int
) -> None:
    """Smaller key first is higher ``priority + waited × aging`` first, whenever one looks
    (the key needs no clock), and a key stays a 64-bit integer until the year 2255."""
    now = max(created for _, created in jobs) + later_ms
    for (p1, c1), (p2, c2) in pairwise(jobs):
        aged1 = 1000 * p1 + (now - c1) * aging
        aged2 = 1000 * p2 + (now - c2) * aging
        k1, k2 = queue_key(p1, c1, aging), queue_key(p2, c2, aging)
        assert (k1 < k2) == (aged1 > aged2) and (k1 == k2) == (aged1 == aged2)
        assert -(2**63) <= k1 < 2**63


def test_queue_key_refuses_an_aging_past_its_bound() -> None:
    with pytest.raises(ValueError, match="aging_per_s"):
        queue_key(0, 0, MAX_AGING_POINTS_PER_S + 1)
