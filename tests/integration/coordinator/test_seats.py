"""Validation seats cannot be held, and a worker that drops them is not called a cheat.

Through the real app on SQLite and PostgreSQL with a fake clock: leases end at their
hard maximum whatever the heartbeats, an expired seat goes to another worker (never
back to the one that let it lapse), and an honest worker killed while holding seats is
not declared invalid at the close.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import run_echo
from tests.integration.coordinator.test_verification import (
    ballots,
    check,
    complete,
    owned,
    pop_one,
    seated,
    stake,
    verdict_entries,
)

from swarmgen.coordinator.auditing import entries
from swarmgen.core import accounts
from swarmgen.core.leases import LEASE_MAX_FACTOR
from swarmgen.core.ledger import EntryKind
from swarmgen.sdk.worker_client import WorkerClient


def tick(env: Env, seconds: float = 1.0) -> None:
    """Let ``seconds`` pass and run the reaper, as the coordinator does every second."""
    env.clock.advance(seconds)
    env.http.app.state.reaper.reap()


def ttl_s(env: Env, assignment: dict[str, Any]) -> float:
    return (int(assignment["lease_expires_ms"]) - env.clock.now_ms()) / 1000


def test_a_key_that_only_heartbeats_loses_the_seat_at_the_cap_and_the_check_settles(
    env: Env,
) -> None:
    claimant, others = owned(env, "ann"), [owned(env, "mal"), owned(env, "cat")]
    job_id = complete(env, claimant)
    squatter = seated(env, job_id, others)  # the drawn one turns squatter
    (honest,) = [w for w in others if w is not squatter]
    seat = pop_one(squatter)
    cap_s = LEASE_MAX_FACTOR * ttl_s(env, seat)
    held_s = 0
    while env.reads.jobs.get(seat["job_id"]).worker_id == squatter.keys.public_key:
        squatter.heartbeat([seat["job_id"]])  # every second, for as long as it is let
        assert honest.pop(0) == []  # the panel is blocked only while the lease lives
        tick(env)
        held_s += 1
        assert held_s <= cap_s + 1
    assert held_s >= cap_s - 1  # heartbeats did keep it up to the cap
    assert squatter.pop(0) == []  # it cannot take the seat back
    assert ballots(env, job_id) == []  # and lapsing cast no vote
    taken = pop_one(honest)
    assert taken["job_id"] == seat["job_id"]
    honest.submit([run_echo(honest, taken)])
    assert check(env, job_id).status == "upheld"


def test_an_ordinary_job_is_held_no_longer_than_a_seat(env: Env) -> None:
    worker = owned(env, "ann")
    job_id = str(env.submit(env.image(width=64, height=64))["id"])
    held = pop_one(worker)
    cap_s = LEASE_MAX_FACTOR * ttl_s(env, held)
    held_s = 0
    while env.reads.jobs.get(job_id).worker_id == worker.keys.public_key:
        worker.heartbeat([job_id])
        tick(env)
        held_s += 1
    assert cap_s - 1 <= held_s <= cap_s + 1
    assert env.reads.jobs.get(job_id).state.value == "queued"


def settle_all(env: Env, validators: list[WorkerClient]) -> None:
    """Live validators pop and answer seats until none is offered."""
    while any(pending := [v.pop(0, 1) for v in validators]):
        for validator, held in zip(validators, pending, strict=True):
            if held:
                validator.submit([run_echo(validator, held[0])])


def test_an_honest_worker_killed_holding_seats_is_not_invalid_and_its_seats_are_redrawn(
    env: Env,
) -> None:
    state = env.http.app.state
    claimant, victim = owned(env, "ann"), owned(env, "vic")
    live = [owned(env, "bob"), owned(env, "cat")]
    stake(env, "vic", victim, 1_000_000)  # against 1 micro-credit each: it is drawn for ~every seat
    own_work = complete(env, victim)  # the victim has honest work of its own to judge
    settle_all(env, [claimant, *live])
    claims = [complete(env, claimant) for _ in range(4)]
    held = victim.pop(0, 4)  # one seat on each of four panels...
    assert len(held) == 4
    tick(env, ttl_s(env, held[0]) + 0.01)  # ...and then it is killed: no heartbeats
    epoch = env.reads.ledger.open_epoch().epoch
    assert env.reads.validations.seat_records(epoch)[victim.keys.public_key].missed == 4
    assert victim.pop(0) == []  # none of its panels will have it back
    settle_all(env, live)
    assert {check(env, c).status for c in claims} == {"upheld"}
    assert all(b.validator_id != victim.keys.public_key for c in claims for b in ballots(env, c))
    assert check(env, own_work).status == "upheld"
    state.epochs.close_due(force=True)
    verdicts = verdict_entries(env)
    assert verdicts[victim.keys.public_key]["invalid"] == 0
    assert verdicts[victim.keys.public_key]["failures"] == 0
    assert all(v["invalid"] == 0 for v in verdicts.values())
    # but it served none of the seats it was drawn for: its emission weight is zero,
    # while its own work is paid like anyone's
    emitted = {
        accounts.account_id(e.posting.credit)
        for e in entries(env.store)
        if e.kind is EntryKind.EMISSION
    }
    assert victim.keys.public_key not in emitted and claimant.keys.public_key in emitted
    assert env.reads.jobs.get(own_work).payment == "paid"


@pytest.mark.parametrize("settings_overrides", [{"max_missed_seats": 1}])
def test_a_worker_that_misses_too_many_seats_gets_only_ordinary_jobs_for_the_epoch(
    env: Env,
) -> None:
    state = env.http.app.state
    claimant, lazy = owned(env, "ann"), owned(env, "bob")
    for _ in range(2):
        complete(env, claimant)
        seat = pop_one(lazy)
        tick(env, ttl_s(env, seat) + 0.01)
    complete(env, claimant)  # a fresh panel it never sat on
    assert lazy.pop(0) == []  # two misses > 1: no seats this epoch
    plain = str(env.submit(env.image(width=64, height=64))["id"])
    assert [a["job_id"] for a in lazy.pop(0, 4)] == [plain]  # ordinary work goes on
    state.epochs.close_due(force=True)
    assert len(lazy.pop(0, 4)) == 1  # a new epoch: seats again


@pytest.mark.parametrize("error", [None, "backend: out of memory"])
def test_handing_a_seat_back_before_the_cap_is_a_miss_and_cannot_renew_the_lease(
    env: Env, error: str | None
) -> None:
    claimant, others = owned(env, "ann"), [owned(env, "mal"), owned(env, "cat")]
    job_id = complete(env, claimant)
    squatter = seated(env, job_id, others)
    (honest,) = [w for w in others if w is not squatter]
    seat = pop_one(squatter)
    tick(env, ttl_s(env, seat) - 1)
    squatter.heartbeat([seat["job_id"]])
    assert squatter.release([seat["job_id"]], error=error)["count"] == 1  # looks as usual
    assert squatter.pop(0) == []  # no fresh lease on the same seat
    epoch = env.reads.ledger.open_epoch().epoch
    assert env.reads.validations.seat_records(epoch)[squatter.keys.public_key].missed == 1
    assert ballots(env, job_id) == []
    honest.submit([run_echo(honest, pop_one(honest))])
    assert check(env, job_id).status == "upheld"
