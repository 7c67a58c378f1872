"""Dispatch's SQL agrees with the core's eligibility rule, and leases what it allows."""

from __future__ import annotations

import random

from tests.integration.store.rows import job

from swarmgen.core.jobs import JobState
from swarmgen.core.verification.escalation import Participant, can_validate
from swarmgen.store import Store

WORKERS = [f"w{i}" for i in range(6)]
OWNERS = [None, "o1", "o2", "o3"]
CASES = 150


def test_the_dispatch_query_agrees_with_can_validate_on_generated_cases(store: Store) -> None:
    rng = random.Random(18)
    cases = []
    with store.transaction() as tx:
        for i in range(CASES):
            owner = {w: rng.choice(OWNERS) for w in WORKERS}
            claimant, candidate = rng.choice(WORKERS), rng.choice(WORKERS)
            claim = f"claim{i}"
            seated = rng.sample(WORKERS, rng.randint(0, 2))
            voted = rng.sample(WORKERS, rng.randint(0, 2))
            seat = f"seat{i}"
            rows = [
                job(seat, validates=claim, exclude_worker=claimant, exclude_owner=owner[claimant])
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
            expected = can_validate(
                Participant(candidate, owner[candidate]),
                Participant(claimant, owner[claimant]),
                panel=set(seated) | set(voted),
            )
            cases.append((candidate, owner[candidate], seat, expected))
    with store.transaction() as tx:
        found = [tx.dispatch.may_validate(w, o, seat) for w, o, seat, _ in cases]
    assert found == [expected for *_, expected in cases]
    assert 0 < sum(found) < len(found)  # the cases reach both answers


def test_an_ordinary_job_goes_to_anyone(store: Store) -> None:
    with store.transaction() as tx:
        tx.jobs.insert([job("plain")])
        assert tx.dispatch.may_validate("w0", None, "plain")
        assert tx.dispatch.may_validate("w0", "o1", "plain")


def test_lease_skips_what_the_rule_forbids_and_one_seat_per_panel(store: Store) -> None:
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job("own", validates="c1", exclude_worker="w0", exclude_owner="o1"),
                job("sibling", validates="c2", exclude_worker="w9", exclude_owner="o1"),
                job("a", validates="c3", exclude_worker="w9", exclude_owner="o2"),
                job("b", validates="c3", exclude_worker="w9", exclude_owner="o2"),
                job("plain"),
            ]
        )
    with store.transaction() as tx:
        leased = tx.dispatch.lease("w0", ["echo-image@fp32"], 64 * 64, 10, now=1, owner_id="o1")
    ids = {record.id for record in leased}
    assert "own" not in ids and "sibling" not in ids
    assert "plain" in ids and len(ids & {"a", "b"}) == 1
    assert all(record.state is JobState.LEASED and record.worker_id == "w0" for record in leased)
