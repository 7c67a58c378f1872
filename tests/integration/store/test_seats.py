"""The seats the validation draw reads and writes: queued seats, panels, draws, and
the seats their worker let expire or left untaken, which go back for another draw."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from tests.integration.store.rows import job

from swarmgen.core.jobs import JobState
from swarmgen.core.verification.draw import take_deadline_ms
from swarmgen.store import Store


def test_reseat_queues_an_expired_seat_again_and_clears_its_draw(store: Store) -> None:
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job("seat", validates="c1", exclude_worker="w9", assigned_worker="w0"),
                job("plain"),
            ]
        )
    with store.transaction() as tx:
        tx.dispatch.lease("w0", ["echo-image@fp32"], 64 * 64, 10, now=0)
    with store.transaction() as tx:
        assert tx.seats.reseat(["seat", "plain", "nothing"], 40_000) == ["seat"]
        seat, plain = tx.jobs.get("seat"), tx.jobs.get("plain")
    assert (seat.state, seat.worker_id, seat.assigned_worker) == (JobState.QUEUED, None, None)
    assert plain.state is JobState.LEASED  # only validation seats are reseated


def test_seats_panels_and_assignments_are_what_the_draw_reads_and_writes(store: Store) -> None:
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job("s1", validates="c1", exclude_worker="w9"),
                job("s2", validates="c1", exclude_worker="w9", assigned_worker="w1"),
                job(
                    "held",
                    validates="c1",
                    exclude_worker="w9",
                    state=JobState.LEASED,
                    worker_id="w2",
                ),
                job("t1", validates="c2", exclude_worker="w9", offering="echo-text@fp32"),
                job("plain"),
            ]
        )
        tx.validations.record_miss("gone", "w3", "c1", epoch=0, now=0)
        tx.validations.add_ballot(
            "c1", "w4", "v", vote="agree", reason="", detail="", distance=None, epoch=0, now=0
        )
    with store.transaction() as tx:
        assert [j.id for j in tx.seats.queued_seats()] == ["s1", "s2", "t1"]
        assert [j.id for j in tx.seats.queued_seats(["echo-text@fp32"])] == ["t1"]
        assert tx.seats.panels(["c1", "c2"]) == {"c1": {"w2", "w3", "w4"}, "c2": set()}
        assert tx.seats.assign({"s1": "w5", "s2": "w1", "held": "w5", "plain": "w5"}, 7) == 1
        assert tx.seats.assign({"s2": None}, 8) == 1
    with store.transaction() as tx:
        found = {j.id: j.assigned_worker for j in tx.jobs.get_many(["s1", "s2", "held", "plain"])}
    assert found == {"s1": "w5", "s2": None, "held": None, "plain": None}
    with store.transaction() as tx:
        leased = tx.dispatch.lease("w5", ["echo-image@fp32"], 4096, 9, now=9)
    assert [r.id for r in leased] == ["plain", "s1"]  # its seat, in the ordinary order


def test_a_drawn_seat_not_taken_by_its_deadline_is_found_with_its_drawn_worker(
    store: Store,
) -> None:
    """TTL 30 s, cap 3 TTLs: a seat drawn at 10 s is the drawn worker's until 10 s + 90 s
    + the grace, counted from the draw, whatever else happens to the row meanwhile."""
    deadline = take_deadline_ms(10_000, 30, 3)
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job("seat", validates="c1", exclude_worker="w9"),
                job("taken", validates="c2", exclude_worker="w9"),
                job("undrawn", validates="c3", exclude_worker="w9"),
                job("redrawn", validates="c4", exclude_worker="w9"),
                # not a seat, never reported (another offering: the lease below skips it)
                job("plain", assigned_worker="w0", offering="echo-text@fp32"),
            ]
        )
        assert tx.seats.assign({"seat": "w0", "taken": "w0", "redrawn": "w1"}, 10_000) == 3
        assert tx.seats.assign({"seat": "w0"}, 50_000) == 0  # kept: its draw time too
        assert tx.seats.assign({"redrawn": "w2"}, 60_000) == 1  # a new worker: a new clock
        assert tx.jobs.get("seat").assigned_ms == 10_000
    with store.transaction() as tx:
        (taken,) = tx.dispatch.lease("w0", ["echo-image@fp32"], 64 * 64, 1, now=20_000)
        assert taken.validates in {"c1", "c2"}
    untaken = "taken" if taken.id == "seat" else "seat"
    with store.transaction() as tx:
        assert tx.seats.untaken_seats(deadline, 3) == []  # due at the deadline, not yet past
        found = tx.seats.untaken_seats(deadline + 1, 3)
        assert [(s.job_id, s.validates, s.worker_id, s.leased) for s in found] == [
            (untaken, tx.jobs.get(untaken).validates, "w0", False)
        ]
        later = take_deadline_ms(60_000, 30, 3)
        assert {s.job_id for s in tx.seats.untaken_seats(later + 1, 3)} == {untaken, "redrawn"}
        # a longer cap gives longer: the deadline is the lease cap plus the grace
        assert tx.seats.untaken_seats(deadline + 1, 4) == []
        # clearing the draw clears its time: an undrawn seat is nobody's to miss
        assert tx.seats.assign({untaken: None}, deadline + 1) == 1
        assert tx.jobs.get(untaken).assigned_ms is None
        assert [s.job_id for s in tx.seats.untaken_seats(later + 1, 3)] == ["redrawn"]


def test_untaken_seats_agree_with_the_core_deadline_on_generated_cases(store: Store) -> None:
    rng = random.Random(20)
    cases = []
    with store.transaction() as tx:
        for i in range(40):
            tx.jobs.insert([job(f"s{i}", validates=f"c{i}", lease_ttl_s=rng.randint(1, 900))])
            tx.seats.assign({f"s{i}": f"w{i}"}, rng.randint(0, 10**12))
    with store.transaction() as tx:
        seats = tx.jobs.get_many([f"s{i}" for i in range(40)])
    for seat in seats:
        assert seat.assigned_ms is not None
        factor = rng.randint(1, 10)
        deadline = take_deadline_ms(seat.assigned_ms, seat.lease_ttl_s, factor)
        now = deadline + rng.choice([-1, 0, 1, 2])
        with store.transaction() as tx:
            found = {s.job_id for s in tx.seats.untaken_seats(now, factor)}
        cases.append((seat.id in found, now > deadline))
    assert [f for f, _ in cases] == [e for _, e in cases]
    assert 0 < sum(e for _, e in cases) < len(cases)  # both sides of the deadline


def test_a_seat_is_taken_or_missed_never_both_when_its_lease_races_the_pass(
    store: Store,
) -> None:
    """The reaper's pass and the drawn worker's pop meet on one late seat, on another
    connection (another replica): whichever holds the row first wins, the other finds
    nothing (PostgreSQL: ``SKIP LOCKED``; SQLite and memory: the second waits)."""
    late = take_deadline_ms(0, 30, 3) + 1
    with store.transaction() as tx:
        tx.jobs.insert([job("seat", validates="c1", exclude_worker="w9")])
        tx.seats.assign({"seat": "w0"}, 0)

    def rival(work: Callable[[Any], list[Any]], out: list[Any]) -> threading.Thread:
        def body() -> None:
            with store.transaction() as tx:
                out.extend(work(tx))

        return threading.Thread(target=body)

    leased: list[Any] = []
    pop = rival(lambda tx: tx.dispatch.lease("w0", ["echo-image@fp32"], 4096, 1, now=late), leased)
    with store.transaction() as tx:  # the pass finds the seat first and clears its draw
        assert [s.job_id for s in tx.seats.untaken_seats(late, 3)] == ["seat"]
        pop.start()
        pop.join(0.3)
        assert tx.seats.assign({"seat": None}, late) == 1
    pop.join(10)
    assert leased == []  # the missed seat is not the worker's any more
    with store.transaction() as tx:
        tx.seats.assign({"seat": "w0"}, 0)
    missed: list[Any] = []
    reaper = rival(lambda tx: tx.seats.untaken_seats(late, 3), missed)
    with store.transaction() as tx:  # the worker takes it first
        (taken,) = tx.dispatch.lease("w0", ["echo-image@fp32"], 4096, 1, now=late)
        reaper.start()
        reaper.join(0.3)
    reaper.join(10)
    assert taken.id == "seat" and missed == []  # a seat taken is not missed
