"""The seat draw: deterministic, weighted by stake, and never to an excluded worker."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from swarmgen.core.leases import hard_end_ms
from swarmgen.core.verification.draw import (
    LIVE_MS,
    TAKE_GRACE_MS,
    Candidate,
    Seat,
    draw,
    draw_order,
    eligible,
    pick,
    take_deadline_ms,
)
from swarmgen.core.verification.escalation import Participant
from swarmgen.core.verification.failures import VerificationError

NOW = 10_000_000
OFFERING = "echo-image@fp32"


def candidate(worker: str, stake: int = 5_000_000, **fields: object) -> Candidate:
    base = Candidate(worker, f"owner-{worker}", stake, frozenset({OFFERING}), 4096, NOW)
    return replace(base, **fields)  # type: ignore[arg-type]


def seat(name: str = "s0", **fields: object) -> Seat:
    base = Seat("claim", name, OFFERING, 64 * 64, Participant("claimant", "owner-claimant"))
    return replace(base, **fields)  # type: ignore[arg-type]


def test_the_draw_is_a_function_of_seed_claim_seat_and_stake_table() -> None:
    pool = [candidate(f"w{i}") for i in range(8)]
    first = draw(b"s" * 32, seat(), pool, now_ms=NOW, min_stake=1)
    assert first is not None
    assert all(
        draw(b"s" * 32, seat(), pool[::-1], now_ms=NOW, min_stake=1) == first for _ in range(5)
    )
    seen = {draw(bytes([i]) * 32, seat(), pool, now_ms=NOW, min_stake=1) for i in range(64)}
    assert len(seen) > 4  # another seed draws others
    seats = {draw(b"s" * 32, seat(f"s{i}"), pool, now_ms=NOW, min_stake=1) for i in range(64)}
    assert len(seats) > 4  # and so does another seat on the same claim


def test_each_exclusion_keeps_a_worker_out() -> None:
    ok = candidate("ok")
    excluded = [
        candidate("stale", last_seen_ms=NOW - LIVE_MS - 1),
        candidate("unowned", owner_id=None),
        candidate("poor", stake=4_999_999),
        candidate("other-model", offerings=frozenset({"echo-text@fp32"})),
        candidate("small", max_pixels=64 * 64 - 1),
        candidate("claimant"),
        candidate("sibling", owner_id="owner-claimant"),
        candidate("seated"),
        candidate("voted"),
        candidate("unreliable", seats_allowed=False),
    ]
    panel = frozenset({"seated", "voted"})
    found = eligible([*excluded, ok], seat(panel=panel), now_ms=NOW, min_stake=5_000_000)
    assert [c.worker_id for c in found] == ["ok"]
    for i in range(50):  # whatever the seed, only the eligible one is drawn
        assert (
            draw(
                bytes([i]) * 32, seat(panel=panel), [*excluded, ok], now_ms=NOW, min_stake=5_000_000
            )
            == "ok"
        )
    just_live = candidate("edge", last_seen_ms=NOW - LIVE_MS)
    assert eligible([just_live], seat(), now_ms=NOW, min_stake=0) == [just_live]


def test_the_requesters_keys_are_never_drawn_for_its_own_job() -> None:
    # "rita" submitted the checked job and owns keys holding nearly all the stake
    hers = [candidate(f"rita-{i}", 1000 * 5_000_000, owner_id="rita") for i in range(3)]
    honest = candidate("bob")
    own_job = seat(requester="rita")
    assert [c.worker_id for c in eligible([*hers, honest], own_job, now_ms=NOW, min_stake=1)] == [
        "bob"
    ]
    for i in range(50):
        assert draw(bytes([i]) * 32, own_job, [*hers, honest], now_ms=NOW, min_stake=1) == "bob"
    assert draw(b"s" * 32, own_job, hers, now_ms=NOW, min_stake=1) is None  # waits undrawn
    # on another requester's job her stake counts as before: she sits almost every seat
    others = [draw(bytes([i]) * 32, seat(requester="bob"), [*hers, honest], now_ms=NOW,
                   min_stake=1) for i in range(50)]  # fmt: skip
    assert sum(w is not None and w.startswith("rita") for w in others) > 45


def test_a_drawn_seat_must_be_taken_by_the_lease_cap_plus_the_grace_from_its_draw() -> None:
    for drawn, ttl, factor in [(0, 30, 3), (NOW, 5, 1), (10**12, 900, 100)]:
        deadline = take_deadline_ms(drawn, ttl, factor)
        assert deadline == drawn + factor * ttl * 1000 + TAKE_GRACE_MS
        assert deadline == hard_end_ms(drawn, ttl, factor) + TAKE_GRACE_MS
        # never earlier than a lease of the seat taken at the draw could still run
        assert deadline > hard_end_ms(drawn, ttl, factor)
    assert take_deadline_ms(0, 30) == take_deadline_ms(0, 30, 3)  # the default cap
    with pytest.raises(ValueError, match="factor"):
        take_deadline_ms(0, 30, 0)


def test_nobody_eligible_draws_nobody() -> None:
    assert draw(b"s" * 32, seat(), [], now_ms=NOW, min_stake=0) is None
    assert draw(b"s" * 32, seat(), [candidate("claimant")], now_ms=NOW, min_stake=0) is None
    assert pick(b"s" * 32, "claim", "s0", []) is None
    with pytest.raises(VerificationError):
        eligible([], seat(), now_ms=NOW, min_stake=-1)


def test_without_a_minimum_unstaked_workers_are_drawn_uniformly() -> None:
    pool = [candidate(f"w{i}", stake=0) for i in range(4)]
    drawn = [draw(random.randbytes(32), seat(), pool, now_ms=NOW, min_stake=0) for _ in range(4000)]
    assert {w: drawn.count(w) for w in set(drawn)}.keys() == {c.worker_id for c in pool}
    assert min(drawn.count(c.worker_id) for c in pool) > 850


def test_seats_follow_stake_chi_squared() -> None:
    """Over many seats each worker's count matches its stake share (χ², 4 degrees of
    freedom: 18.47 is the 0.1 % critical value), and a skewed draw would fail it."""
    stakes = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 10}
    pool = [candidate(w, stake=s * 1_000_000) for w, s in stakes.items()]
    n = 20_000
    rng = random.Random(19)
    counts = dict.fromkeys(stakes, 0)
    for i in range(n):
        drawn = draw(rng.randbytes(32), seat(f"s{i}"), pool, now_ms=NOW, min_stake=1)
        assert drawn is not None
        counts[drawn] += 1
    total = sum(stakes.values())

    def chi2(observed: dict[str, int]) -> float:
        return sum((observed[w] - n * s / total) ** 2 / (n * s / total) for w, s in stakes.items())

    assert chi2(counts) < 18.47
    uniform = {w: n // len(stakes) for w in stakes}  # what a draw ignoring stake gives
    assert chi2(uniform) > 18.47


def test_splitting_stake_over_keys_does_not_raise_the_share() -> None:
    honest = [candidate(f"h{i}", stake=9_000_000) for i in range(10)]  # 90 %
    one_key = [candidate("adv", stake=10_000_000, owner_id="mallory")]
    many = [candidate(f"adv{i}", stake=1_000_000, owner_id="mallory") for i in range(10)]
    rng = random.Random(7)
    seeds = [rng.randbytes(32) for _ in range(5000)]

    def share(pool: list[Candidate], prefix: str) -> float:
        hits = sum(
            (draw(s, seat(f"s{i}"), pool, now_ms=NOW, min_stake=1) or "").startswith(prefix)
            for i, s in enumerate(seeds)
        )
        return hits / len(seeds)

    assert abs(share(honest + one_key, "adv") - 0.10) < 0.015
    assert abs(share(honest + many, "adv") - 0.10) < 0.015


def test_a_panel_counts_owners_no_second_key_of_an_owner_on_it_is_drawn() -> None:
    # "mal" holds (or held, voted or missed) a seat of this panel with one key: its other
    # keys are out of every draw for the panel, whatever their stake and the seed
    kin = [candidate(f"mal-{i}", 1000 * 5_000_000, owner_id="mal") for i in range(3)]
    honest = candidate("bob")
    on_panel = seat(panel=frozenset({"mal-0"}), panel_owners=frozenset({"mal"}))
    found = eligible([*kin, honest], on_panel, now_ms=NOW, min_stake=1)
    assert [c.worker_id for c in found] == ["bob"]
    for i in range(50):
        assert draw(bytes([i]) * 32, on_panel, [*kin, honest], now_ms=NOW, min_stake=1) == "bob"
    # with nobody else eligible the seat waits undrawn rather than go to a sibling key
    assert draw(b"s" * 32, on_panel, kin, now_ms=NOW, min_stake=1) is None
    # and an owner not on the panel is drawn as before
    assert {c.worker_id for c in eligible(kin, seat(), now_ms=NOW, min_stake=1)} == {
        "mal-0",
        "mal-1",
        "mal-2",
    }


def test_an_unowned_panel_member_bars_no_one_else() -> None:
    found = eligible(
        [candidate("a"), candidate("b")],
        seat(panel=frozenset({"x"}), panel_owners=frozenset()),
        now_ms=NOW,
        min_stake=1,
    )
    assert [c.worker_id for c in found] == ["a", "b"]


def test_seats_are_drawn_in_an_order_their_ids_do_not_give() -> None:
    """The first seat drawn of a panel (the one drawn from the whole pool) is its lowest
    id a third of the time, not always; the order is fixed by the seed alone."""
    rng = random.Random(5)
    first_is_lowest = 0
    for n in range(3_000):
        seats = [f"{rng.getrandbits(128):032x}" for _ in range(3)]
        order = draw_order(bytes([n % 7]) * 32, seats)
        assert sorted(order) == sorted(seats)
        assert order == draw_order(bytes([n % 7]) * 32, list(reversed(seats)))
        first_is_lowest += order[0] == min(seats)
    assert abs(first_is_lowest / 3_000 - 1 / 3) < 0.03
