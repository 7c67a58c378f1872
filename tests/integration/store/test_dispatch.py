"""Dispatch's SQL agrees with the core's eligibility rule, and leases what it allows:
a validation seat only to the worker drawn for it."""

from __future__ import annotations

import random
from typing import Any

from tests.integration.store.rows import job

from swarmgen.core.jobs import JobState
from swarmgen.core.leases import extended_expiry_ms
from swarmgen.core.offerings import Offering
from swarmgen.core.scheduling import (
    POSITION_CAP,
    Capabilities,
    QueuedJob,
    SeatTurn,
    fair_share,
    fits,
    hand_out,
    queue_key,
)
from swarmgen.core.verification.escalation import Participant, may_sit
from swarmgen.store import Store
from swarmgen.store.records import SYSTEM_USER, Completion, JobRecord, UserRecord, WorkerRecord

WORKERS = [f"w{i}" for i in range(6)]
OWNERS = [None, "o1", "o2", "o3"]
CASES = 150


def test_the_dispatch_query_agrees_with_may_sit_on_generated_cases(store: Store) -> None:
    rng = random.Random(18)
    cases = []
    kin_barred = 0  # cases only the owner rule decides: another key of its owner is on the panel
    requester_barred = 0  # cases only the requester rule decides: its owner submitted the claim
    with store.transaction() as tx:
        for name in OWNERS:
            if name is not None:
                tx.users.create(UserRecord(name, name, "user", 0))
        for i in range(CASES):
            keys = [f"c{i}{w}" for w in WORKERS]  # a worker has one owner: fresh keys per case
            owner = {w: rng.choice(OWNERS) for w in keys}
            for w in keys:
                tx.workers.register(WorkerRecord(w, owner[w], w, {}, 0, 0))
            claimant, candidate = rng.choice(keys), rng.choice(keys)
            claim = f"claim{i}"
            requester = rng.choice([SYSTEM_USER, *(o for o in OWNERS if o is not None)])
            seated = rng.sample(keys, rng.randint(0, 2))
            voted = rng.sample(keys, rng.randint(0, 2))
            missed = rng.sample(keys, rng.randint(0, 1))
            seat = f"seat{i}"
            assigned = rng.choice([candidate, candidate, None, rng.choice(keys)])
            rows = [
                job(claim, user_id=requester, state=JobState.COMPLETED, worker_id=claimant),
                job(
                    seat,
                    validates=claim,
                    exclude_worker=claimant,
                    exclude_owner=owner[claimant],
                    assigned_worker=assigned,
                ),
            ]
            states = (JobState.LEASED, JobState.COMPLETED, JobState.CANCELLED)
            for n, worker in enumerate(seated):
                rows.append(
                    job(
                        f"held{i}-{n}",
                        validates=claim,
                        state=rng.choice(states),
                        worker_id=worker,
                        exclude_worker=claimant,
                    )
                )
            tx.jobs.insert(rows)
            for n, worker in enumerate(voted):
                tx.validations.add_ballot(
                    claim,
                    worker,
                    f"voted{i}-{n}",
                    vote="agree",
                    reason="",
                    detail="",
                    distance=None,
                    epoch=0,
                    now=0,
                )
            for n, worker in enumerate(missed):
                tx.validations.record_miss(f"missed{i}-{n}", worker, claim, epoch=0, now=0)
            panel = set(seated) | set(voted) | set(missed)
            expected = may_sit(
                Participant(candidate, owner[candidate]),
                Participant(claimant, owner[claimant]),
                panel=panel,
                assigned=assigned,
                panel_owners={o for w in panel if (o := owner[w]) is not None},
                requester=requester,
            )
            by_key_alone = may_sit(
                Participant(candidate, owner[candidate]),
                Participant(claimant, owner[claimant]),
                panel=panel,
                assigned=assigned,
                requester=requester,
            )
            for_anyones_job = may_sit(
                Participant(candidate, owner[candidate]),
                Participant(claimant, owner[claimant]),
                panel=panel,
                assigned=assigned,
                panel_owners={o for w in panel if (o := owner[w]) is not None},
            )
            kin_barred += by_key_alone and not expected
            requester_barred += for_anyones_job and not expected
            cases.append((candidate, owner[candidate], seat, expected))
    with store.transaction() as tx:
        found = [tx.dispatch.may_validate(w, o, seat) for w, o, seat, _ in cases]
    assert found == [expected for *_, expected in cases]
    assert 0 < sum(found) < len(found)  # the cases reach both answers
    assert kin_barred > 0
    assert requester_barred > 0


def test_an_ordinary_job_goes_to_anyone(store: Store) -> None:
    with store.transaction() as tx:
        tx.jobs.insert([job("plain")])
        assert tx.dispatch.may_validate("w0", None, "plain")
        assert tx.dispatch.may_validate("w0", "o1", "plain")


def test_lease_skips_what_the_rule_forbids_and_one_seat_per_panel(store: Store) -> None:
    drawn = {"assigned_worker": "w0"}
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job("own", validates="c1", exclude_worker="w0", exclude_owner="o1", **drawn),
                job("sibling", validates="c2", exclude_worker="w9", exclude_owner="o1", **drawn),
                job("a", validates="c3", exclude_worker="w9", exclude_owner="o2", **drawn),
                job("b", validates="c3", exclude_worker="w9", exclude_owner="o2", **drawn),
                job("undrawn", validates="c4", exclude_worker="w9", exclude_owner="o2"),
                job("elsewhere", validates="c5", exclude_worker="w9", assigned_worker="w1"),
                job("plain"),
            ]
        )
    with store.transaction() as tx:
        leased = tx.dispatch.lease("w0", ["echo-image@fp32"], 64 * 64, 10, now=1, owner_id="o1")
    ids = {record.id for record in leased}
    assert not ids & {"own", "sibling", "undrawn", "elsewhere"}
    assert "plain" in ids and len(ids & {"a", "b"}) == 1
    assert all(record.state is JobState.LEASED and record.worker_id == "w0" for record in leased)


def test_a_lease_records_its_start_and_heartbeats_stop_at_its_hard_end(store: Store) -> None:
    """TTL 30 s, factor 3: a lease taken at 0 s ends at 90 s however often it is extended."""
    with store.transaction() as tx:
        seat = job("seat", validates="c1", exclude_worker="w9", assigned_worker="w0")
        tx.jobs.insert([job("plain"), seat])
    with store.transaction() as tx:
        leased = tx.dispatch.lease("w0", ["echo-image@fp32"], 64 * 64, 10, now=0)
    assert {(r.id, r.leased_ms, r.lease_expires_ms) for r in leased} == {
        ("plain", 0, 30_000),
        ("seat", 0, 30_000),
    }
    for now in range(1_000, 200_001, 1_000):  # a heartbeat every second
        with store.transaction() as tx:
            assert tx.dispatch.extend("w0", ["plain", "seat"], now, 3) == 2
            expiries = {j.lease_expires_ms for j in tx.jobs.get_many(["plain", "seat"])}
            assert expiries == {min(now + 30_000, 90_000)}  # never past the hard end
            # the reaper takes both back at the cap, ordinary and validation job alike
            expired = {s.job_id for s in tx.seats.expired_seats(now)}
            requeued, failed = tx.dispatch.reap(now, max_attempts=5)
        if now > 90_000:
            assert expired == {"seat"} and sorted(requeued) == ["plain", "seat"] and failed == []
            break
        assert requeued == [] and expired == set()
    assert now == 91_000
    with store.transaction() as tx:
        assert {j.state for j in tx.jobs.get_many(["plain", "seat"])} == {JobState.QUEUED}


def test_the_cap_counts_from_when_the_lease_began_not_from_the_last_heartbeat(
    store: Store,
) -> None:
    with store.transaction() as tx:
        tx.jobs.insert([job("plain", lease_ttl_s=10)])
    with store.transaction() as tx:
        tx.dispatch.lease("w0", ["echo-image@fp32"], 64 * 64, 1, now=5_000)
        tx.dispatch.extend("w0", ["plain"], 30_000, 2)
        assert tx.jobs.get("plain").lease_expires_ms == 25_000  # 5 s + 2 × 10 s
        tx.dispatch.extend("w0", ["plain"], 12_000, 2)
        assert tx.jobs.get("plain").lease_expires_ms == 22_000


def test_a_worker_that_missed_a_seat_never_gets_its_panel_back(store: Store) -> None:
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job("seat", validates="c1", exclude_worker="w9", assigned_worker="w0"),
                job("other", validates="c1", exclude_worker="w9", assigned_worker="w0"),
                job("next", validates="c1", exclude_worker="w9", assigned_worker="w1"),
            ]
        )
        tx.validations.record_miss("seat", "w0", "c1", epoch=0, now=0)
    with store.transaction() as tx:
        assert not tx.dispatch.may_validate("w0", None, "seat")  # drawn, but it missed one
        assert not tx.dispatch.may_validate("w0", None, "other")
        assert not tx.dispatch.may_validate("w1", None, "seat")  # not drawn for it
        assert tx.dispatch.may_validate("w1", None, "next")
        assert tx.dispatch.lease("w0", ["echo-image@fp32"], 64 * 64, 10, now=0) == []


def test_a_worker_barred_from_seats_gets_only_ordinary_jobs(store: Store) -> None:
    with store.transaction() as tx:
        seat = job("seat", validates="c1", exclude_worker="w9", assigned_worker="w0")
        tx.jobs.insert([seat, job("plain")])
    with store.transaction() as tx:
        leased = tx.dispatch.lease("w0", ["echo-image@fp32"], 64 * 64, 10, now=0, seats=False)
    assert [r.id for r in leased] == ["plain"]


def test_extend_agrees_with_the_core_rule_on_generated_cases(store: Store) -> None:
    """The SQL ``CASE`` (and the memory twin) move expiries exactly as
    :func:`~swarmgen.core.leases.extended_expiry_ms` says, whatever the heartbeat time."""
    rng = random.Random(19)
    cases = []
    with store.transaction() as tx:
        tx.jobs.insert([job(f"j{i}", lease_ttl_s=rng.randint(1, 900)) for i in range(40)])
    for i in range(40):
        leased_at = rng.randint(0, 10**12)
        with store.transaction() as tx:
            (taken,) = tx.dispatch.lease(f"w{i}", ["echo-image@fp32"], 64 * 64, 1, now=leased_at)
            factor = rng.randint(1, 10)
            beat = leased_at + rng.randint(0, 12 * taken.lease_ttl_s * 1000)
            tx.dispatch.extend(f"w{i}", [taken.id], beat, factor)
            found = tx.jobs.get(taken.id).lease_expires_ms
        expected = extended_expiry_ms(beat, leased_at, taken.lease_ttl_s, factor)
        cases.append((found, expected, expected < beat + taken.lease_ttl_s * 1000))
    assert [f for f, *_ in cases] == [e for _, e, _ in cases]
    assert 0 < sum(capped for *_, capped in cases) < len(cases)  # both sides of the cap


OFFERINGS = ["echo-image@fp32", "echo-text@fp32", "echo-image@int8"]


def best(rows: list[JobRecord], aging_per_s: int = 0) -> list[JobRecord]:
    """Best first, as the core orders: :func:`queue_key` (priority with aging), age, id."""
    return sorted(
        rows, key=lambda j: (queue_key(j.priority, j.created_ms, aging_per_s), j.created_ms, j.id)
    )


def test_lease_hands_out_what_the_core_rule_picks_on_generated_cases(store: Store) -> None:
    """Each store's lease leases exactly :func:`hand_out` of its :func:`fair_share` of the
    ordinary jobs due (best first by the core's :func:`queue_key`, whatever the aging, over
    every offering the worker serves, within its pixels) and the seats drawn for the
    worker (one per panel): a seat never goes out but in a place of an ordinary job its
    coin gives it, unless the worker is overdue with nothing ordinary due (or unpaced).
    Each queued job's position counts the jobs of its offering the core puts ahead of
    it."""
    rng = random.Random(19)
    aged_apart = 0  # cases where aging puts an older job ahead of a higher priority
    for case in range(60):
        aging = rng.choice([0, 1, 100, 1000])
        caps = Capabilities(frozenset(map(Offering.parse, rng.sample(OFFERINGS, 2))), 4096, 9)

        def queued(name: str, aging: int = aging, **fields: Any) -> JobRecord:
            return job(
                name,
                priority=rng.randint(0, 2),
                created_ms=rng.randint(0, 3) * 7_000,
                offering=rng.choice(OFFERINGS),
                pixels=rng.choice([64 * 64, 64 * 64, 128 * 128]),
                aging_per_s=aging,
                **fields,
            )

        ordinary = [queued(f"o{case}-{n}") for n in range(rng.randint(0, 12))]
        seats = [
            queued(
                f"s{case}-{n}",
                validates=f"claim{case}-{rng.randint(0, 2)}",
                exclude_worker="w9",
                assigned_worker="w0",
            )
            for n in range(rng.randint(0, 3))
        ]
        coins = rng.choice([None, tuple(rng.random() < 0.5 for _ in range(4))])
        limit, turn = rng.randint(1, 4), SeatTurn(coins, rng.random() < 0.3)
        sharing = rng.choice([1, 1, 2, 3, 5])
        with store.transaction() as tx:
            tx.jobs.insert(ordinary + seats)

        def fit(
            rows: list[JobRecord], aging: int = aging, caps: Capabilities = caps
        ) -> list[JobRecord]:
            return [j for j in best(rows, aging) if fits(_queued(j), caps)]

        panels: set[str | None] = set()
        drawn = []
        for seat in fit(seats)[:limit]:
            if seat.validates not in panels:
                panels.add(seat.validates)
                drawn.append(seat.id)
        due_rows = fit(ordinary)
        due = [j.id for j in due_rows[: fair_share(len(due_rows), limit, sharing)]]
        aged_apart += [j.id for j in due_rows] != [j.id for j in best(due_rows)]
        expected = hand_out(due, drawn, limit, turn, sharing)
        served = sorted(str(o) for o in caps.offerings)
        with store.transaction() as tx:
            everyone = ordinary + seats
            for one in everyone:
                mine = best([j for j in everyone if j.offering == one.offering], aging)
                assert tx.dispatch.queue_position(one) == mine.index(one)
            leased = tx.dispatch.lease(
                "w0", served, caps.max_pixels, limit, 1, turn=turn, sharing=sharing
            )
            assert [j.id for j in leased] == expected
            tx.dispatch.release("w0", [j.id for j in leased], 2)  # clear the queue for the next
            for n in range(3):
                tx.validations.withdraw(f"claim{case}-{n}", 2)
        with store.transaction() as tx:
            left = tx.dispatch.lease("w0", OFFERINGS, 128 * 128, 99, 3, seats=False)
            tx.jobs.complete("w0", 4, [Completion(j.id, [], "0" * 64, {}, {}) for j in left])
        with store.transaction() as tx:
            assert tx.dispatch.lease("w0", OFFERINGS, 128 * 128, 10, 5) == []
    assert aged_apart > 0


def _queued(record: JobRecord) -> QueuedJob:
    return QueuedJob(
        record.id,
        Offering.parse(record.offering),
        record.pixels,
        record.priority,
        record.created_ms,
    )


def test_waiting_workers_share_a_short_queue_and_a_deep_one_fills_every_batch(
    store: Store,
) -> None:
    with store.transaction() as tx:
        tx.jobs.insert([job(f"j{n:02d}", created_ms=n) for n in range(10)])
    parts = []
    for n, sharing in enumerate((4, 3, 2, 1)):  # four pops woken together lease in turn
        with store.transaction() as tx:
            leased = tx.dispatch.lease(f"w{n}", ["echo-image@fp32"], 4096, 4, 1, sharing=sharing)
        parts.append([j.id for j in leased])
    assert [len(p) for p in parts] == [3, 3, 2, 2]
    assert sorted(i for p in parts for i in p) == [f"j{n:02d}" for n in range(10)]

    with store.transaction() as tx:  # 64 due, a full batch for each of 16 waiting: deep
        tx.jobs.insert([job(f"d{n:02d}", created_ms=n) for n in range(64)])
    with store.transaction() as tx:
        assert len(tx.dispatch.lease("w9", ["echo-image@fp32"], 4096, 4, 2, sharing=40)) == 4
        short = tx.dispatch.lease("w8", ["echo-image@fp32"], 4096, 4, 2, sharing=40)
    assert len(short) == 2  # then 60 due among 40 waiting: 1.5 each, rounded up


def test_an_overdue_worker_s_seats_go_out_as_its_share_of_a_queue_would(store: Store) -> None:
    """With nothing ordinary due, an overdue worker among ``sharing`` waiting pops
    leases as many of its seats as it would lease ordinary jobs from a queue of that
    many: seats alone in a lease of their own are no longer than ordinary ones."""
    late = SeatTurn((), overdue=True)
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job(f"s{n}", validates=f"claim{n}", exclude_worker="w9", assigned_worker="w0")
                for n in range(4)
            ]
        )
    leased = []
    for sharing in (3, 2, 1):
        with store.transaction() as tx:
            due = len(tx.seats.queued_seats())
            got = tx.dispatch.lease(
                "w0", ["echo-image@fp32"], 4096, 4, 1, turn=late, sharing=sharing
            )
        assert len(got) == fair_share(due, 4, sharing)
        leased.append(len(got))
    assert leased == [2, 1, 1]  # ceil(4 / 3), ceil(2 / 2), the last one alone
    with store.transaction() as tx:  # not overdue, nothing ordinary due: the seat waits
        tx.dispatch.release("w0", ["s0"], 2)
        waiting = SeatTurn((True,), overdue=False)
        assert tx.dispatch.lease("w0", ["echo-image@fp32"], 4096, 4, 3, turn=waiting) == []


def test_a_new_aging_places_every_job_again_once(store: Store) -> None:
    """Keys made with 100 points/s put the older job first; at 1 point/s two priority
    points outweigh its 1 s head start, so the richer job goes first once keyed again."""
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job("old", created_ms=0, aging_per_s=100),
                job("rich", priority=2, created_ms=1_000, aging_per_s=100),
                job("done", state=JobState.COMPLETED, priority=1, aging_per_s=100),
            ]
        )
        assert tx.dispatch.rekey(100) == 0  # the keys were made with this aging
        assert tx.dispatch.queue_position(tx.jobs.get("rich")) == 1
    with store.transaction() as tx:
        assert tx.dispatch.rekey(1) == 3  # every job, finished ones too (checks copy them)
        assert tx.dispatch.rekey(1) == 0
        keys = {j.id: j.queue_key for j in tx.jobs.get_many(["old", "rich", "done"])}
        assert keys == {"old": 0, "rich": queue_key(2, 1_000, 1), "done": queue_key(1, 0, 1)}
        assert tx.dispatch.queue_position(tx.jobs.get("rich")) == 0
        assert [j.id for j in tx.dispatch.lease("w0", ["echo-image@fp32"], 4096, 1, 5)] == ["rich"]


def test_queued_in_names_the_offerings_with_an_ordinary_job_queued(store: Store) -> None:
    """What a woken pop that leased nothing asks before passing its wake-up on: a seat or
    a leased job does not count, and every store agrees."""
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job("img", offering="a@fp32"),
                job("leased", offering="b@fp32", state=JobState.LEASED, worker_id="w"),
                job("seat", offering="c@fp32", validates="img"),
                job("done", offering="d@fp32", state=JobState.COMPLETED),
            ]
        )
    with store.transaction() as tx:
        assert tx.dispatch.queued_in(["a@fp32", "b@fp32", "c@fp32", "d@fp32", "e@fp32"]) == {
            "a@fp32"
        }
        assert tx.dispatch.queued_in([]) == set()


def test_due_counts_the_queued_jobs_a_worker_could_take_and_nothing_else(store: Store) -> None:
    """The room's re-check: ordinary queued jobs of an offering within a size, counted up
    to a most, and every store agrees; a leased job, a job too large, a seat or another
    offering's job is not counted."""
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job("big", offering="a@fp32", pixels=128 * 128),
                job("small", offering="a@fp32"),
                job("small2", offering="a@fp32"),
                job("leased", offering="a@fp32", state=JobState.LEASED, worker_id="w1"),
                job("seat", offering="a@fp32", validates="x", assigned_worker="w1"),
                job("other", offering="b@fp32"),
            ]
        )
    with store.transaction(read_only=True) as tx:
        assert tx.dispatch.due("a@fp32", 64 * 64, 10) == 2
        assert tx.dispatch.due("a@fp32", 128 * 128, 10) == 3
        assert tx.dispatch.due("a@fp32", 128 * 128, 1) == 1
        assert tx.dispatch.due("c@fp32", 128 * 128, 10) == 0


def test_seats_drawn_for_names_the_workers_with_a_queued_seat(store: Store) -> None:
    """A seat drawn for a worker and still queued names it; one leased, or drawn for a
    worker not asked about, does not; every store agrees, in statements of any size."""
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job("mine", offering="a@fp32", validates="x", assigned_worker="w0"),
                job(
                    "taken",
                    offering="a@fp32",
                    validates="x",
                    assigned_worker="w1",
                    state=JobState.LEASED,
                    worker_id="w1",
                ),
                job("theirs", offering="a@fp32", validates="x", assigned_worker="w2"),
            ]
        )
    asked = ["w0", "w1", *(f"idle{i}" for i in range(1200))]
    with store.transaction(read_only=True) as tx:
        assert tx.dispatch.seats_drawn_for(asked) == {"w0"}
        assert tx.dispatch.seats_drawn_for([]) == set()


def test_expire_fails_ordinary_jobs_queued_since_before_the_cut_and_nothing_else(
    store: Store,
) -> None:
    """The reaper's queue TTL: a seat, a leased job, a job submitted at or after the cut
    and a final one stay as they are, in every store."""
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job("old", created_ms=10),
                job("older", created_ms=5),
                job("fresh", created_ms=100),
                job("seat", created_ms=5, validates="old"),
                job("leased", created_ms=5, state=JobState.LEASED, worker_id="w"),
                job("done", created_ms=5, state=JobState.COMPLETED),
            ]
        )
    with store.transaction() as tx:
        assert sorted(tx.dispatch.expire(100, 200, "expired: test")) == ["old", "older"]
        assert tx.dispatch.expire(100, 200, "expired: test") == []
    with store.transaction(read_only=True) as tx:
        states = {j.id: (j.state, j.error) for j in tx.jobs.get_many(["old", "fresh", "seat"])}
    assert states == {
        "old": (JobState.FAILED, "expired: test"),
        "fresh": (JobState.QUEUED, None),
        "seat": (JobState.QUEUED, None),
    }


def test_reapable_says_whether_the_reaper_would_find_a_job(store: Store) -> None:
    """The reaper's read-only look, on every store: a lease that expired before ``now``,
    or an ordinary job queued before the cut-off; a lease still running, a job queued
    since, a finished job or an old queued seat is nothing to reap."""
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job("running", state=JobState.LEASED, worker_id="w1", lease_expires_ms=2000),
                job("fresh", created_ms=1000),
                job("done", state=JobState.COMPLETED, worker_id="w1", lease_expires_ms=10),
                job("seat", validates="done", created_ms=10),
            ]
        )
    with store.transaction(read_only=True) as tx:
        assert not tx.dispatch.reapable(now=2000, submitted_before=1000)
        assert tx.dispatch.reapable(now=2001, submitted_before=1000)  # the lease ran out
        assert tx.dispatch.reapable(now=2000, submitted_before=1001)  # queued too long


def test_a_queue_position_counts_up_to_the_cap_and_no_further(store: Store) -> None:
    """A job with more than ``POSITION_CAP`` jobs ahead is told ``POSITION_CAP``; the one
    just inside the cap, its exact place. Every store agrees."""
    ahead = POSITION_CAP + 3
    with store.transaction() as tx:
        tx.jobs.insert([job(f"q{n:05d}", created_ms=n) for n in range(ahead + 1)])
        jobs = {j.id: j for j in tx.jobs.get_many([f"q{n:05d}" for n in range(ahead + 1)])}
        assert tx.dispatch.queue_position(jobs["q00000"]) == 0
        assert tx.dispatch.queue_position(jobs[f"q{POSITION_CAP - 1:05d}"]) == POSITION_CAP - 1
        assert tx.dispatch.queue_position(jobs[f"q{POSITION_CAP:05d}"]) == POSITION_CAP
        assert tx.dispatch.queue_position(jobs[f"q{ahead:05d}"]) == POSITION_CAP
