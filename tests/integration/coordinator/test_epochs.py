"""Epoch closes through the real app: earnings wait for their checks, and speed is the
coordinator's own observation (on SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.test_verification import (
    check,
    job_of,
    owned,
    pop_one,
    run_noise,
)

from swarmgen.backends.echo import EchoBackend
from swarmgen.core import accounts
from swarmgen.core.ledger import EntryKind
from swarmgen.core.receipts import Receipt
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.worker.daemon import result_payload

EPOCH_S = 20


def echo_claiming(worker: WorkerClient, assignment: dict[str, Any], run_ms: int) -> Any:
    """An honest echo result whose receipt claims ``run_ms`` of running time."""
    job = job_of(assignment)
    (output,) = EchoBackend(job.offering, job.kind).run([job])
    receipt = Receipt.signed(
        worker.keys,
        job_id=job.id,
        input_digest=job.input_digest(),
        output_digest=output.digest(),
        artifact_digest=output.digest(),
        timings={"run_ms": run_ms},
    )
    return result_payload(job, output, receipt)


def owner_balance(env: Env, owner: str) -> int:
    user = env.reads.users.by_name(owner)
    assert user is not None
    return int(env.reads.ledger.balance(accounts.user(user.id)))


def payment(env: Env, job_id: str) -> str:
    return str(env.http.get(f"/api/v1/jobs/{job_id}", headers=env.auth).json()["payment"])


def close(env: Env) -> None:
    """Let the open epoch run out and close it (a background close may come first)."""
    before = env.reads.ledger.open_epoch().epoch
    env.clock.advance(EPOCH_S)  # type: ignore[attr-defined]
    env.http.app.state.epochs.close_due()
    assert env.reads.ledger.open_epoch().epoch == before + 1


@pytest.mark.parametrize("settings_overrides", [{"epoch_length_s": EPOCH_S}])
def test_submitting_just_before_the_close_outruns_no_verdict(env: Env) -> None:
    cheat, fair = owned(env, "mal"), owned(env, "ann")
    validators = [owned(env, "bob"), owned(env, "cat")]
    alice = accounts.user(env.reads.users.by_name("alice").id)  # type: ignore[union-attr]
    submitted = {str(env.submit(env.image(width=64, height=64))["id"]) for _ in range(6)}
    env.clock.advance(EPOCH_S - 1)  # type: ignore[attr-defined]
    leased, fairly = cheat.pop(0, 4), fair.pop(0, 2)  # just before the close
    cheated, honest = [a["job_id"] for a in leased], [a["job_id"] for a in fairly]
    assert set(cheated + honest) == submitted and len(cheated) == 4
    cheat.submit([run_noise(cheat, a, seed=i) for i, a in enumerate(leased)])
    fair.submit([echo_claiming(fair, a, 1) for a in fairly])
    before = env.reads.ledger.balance(alice)
    env.clock.advance(1)  # type: ignore[attr-defined]
    env.http.app.state.epochs.close_due()  # (or the background closer got there first)
    assert env.reads.ledger.open_epoch().epoch == 1

    # the close came before any check settled: nothing is paid, nothing forfeited yet
    assert {check(env, j).status for j in cheated + honest} == {"pending"}
    assert {payment(env, j) for j in cheated + honest} == {"pending"}
    assert owner_balance(env, "mal") == 0 and owner_balance(env, "ann") == 0
    assert env.reads.ledger.kind_entries(EntryKind.EMISSION) == []
    held = env.reads.ledger.balance(accounts.worker(cheat.keys.public_key))
    assert held > 0  # still in the worker's account, waiting

    # seats are drawn among the workers seen lately: those two, and any that pops now
    everyone = [*validators, fair, cheat]  # (the cheat validates honestly)
    while any(pending := [v.pop(0, 1) for v in everyone]):
        for validator, seat in zip(everyone, pending, strict=True):
            if seat:
                validator.submit([echo_claiming(validator, seat[0], 1)])
    close(env)
    assert {check(env, j).status for j in cheated} == {"rejected"}
    assert {check(env, j).status for j in honest} == {"upheld"}
    assert {payment(env, j) for j in cheated} == {"forfeited"}
    assert {payment(env, j) for j in honest} == {"paid"}
    # 0 paid for the rejected jobs, ever: whatever mal's owner holds is its key's pay for
    # the honest seats it was drawn for (if it was)
    seat_pay = sum(
        e.posting.amount
        for e in env.reads.ledger.kind_entries(EntryKind.VALIDATOR_REWARD)
        if e.posting.credit == accounts.worker(cheat.keys.public_key)
    )
    assert owner_balance(env, "mal") == seat_pay
    assert env.reads.ledger.balance(accounts.worker(cheat.keys.public_key)) == 0
    refunded = sum(e.posting.amount for e in env.reads.ledger.kind_entries(EntryKind.FORFEIT))
    assert refunded == held and env.reads.ledger.balance(alice) == before + held
    # the honest worker is paid its releases and the emission for its now-verified work
    emitted = env.reads.ledger.kind_entries(
        EntryKind.EMISSION, accounts.worker(fair.keys.public_key)
    )
    assert emitted and owner_balance(env, "ann") > sum(e.posting.amount for e in emitted)
    close(env)  # a later close pays nothing twice
    assert payment(env, honest[0]) == "paid" and owner_balance(env, "mal") == seat_pay


def timed_run(env: Env, worker: WorkerClient, after_s: float, run_ms: int) -> str:
    """Lease one job, let ``after_s`` pass on the coordinator's clock, submit it."""
    job_id = str(env.submit(env.image(width=64, height=64))["id"])
    assignment = pop_one(worker)
    env.clock.advance(after_s)  # type: ignore[attr-defined]
    worker.submit([echo_claiming(worker, assignment, run_ms)])
    return job_id


def emission_of(env: Env, worker: WorkerClient) -> int:
    found = env.reads.ledger.kind_entries(
        EntryKind.EMISSION, accounts.worker(worker.keys.public_key)
    )
    return sum(e.posting.amount for e in found)


@pytest.mark.parametrize("settings_overrides", [{"verify": False, "epoch_length_s": 3600}])
def test_claimed_run_times_earn_no_emission_observed_times_do(env: Env) -> None:
    liar, honest, slow = owned(env, "lia"), owned(env, "hal"), owned(env, "sol")
    for _ in range(3):
        timed_run(env, liar, 2, run_ms=1)  # claims 1 ms, the coordinator saw 2 s
        timed_run(env, honest, 2, run_ms=2000)
        timed_run(env, slow, 4, run_ms=1)
    env.http.app.state.epochs.close_due(force=True)
    assert emission_of(env, liar) == pytest.approx(emission_of(env, honest), abs=1)
    assert emission_of(env, slow) < emission_of(env, honest)


@pytest.mark.parametrize("settings_overrides", [{"verify": False, "epoch_length_s": 3600}])
def test_a_batch_is_timed_as_a_whole(env: Env) -> None:
    batcher, single = owned(env, "bat"), owned(env, "sin")
    for _ in range(4):
        env.submit(env.image(width=64, height=64))
    batch = batcher.pop(0, 4)
    assert len(batch) == 4
    for assignment in batch:  # one job every 2 s, as a one-at-a-time worker would
        env.clock.advance(2)  # type: ignore[attr-defined]
        batcher.submit([echo_claiming(batcher, assignment, 1)])
    for _ in range(4):
        timed_run(env, single, 2, run_ms=1)
    env.http.app.state.epochs.close_due(force=True)
    assert emission_of(env, batcher) == pytest.approx(emission_of(env, single), abs=1)
