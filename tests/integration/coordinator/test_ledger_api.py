"""The ledger in the running coordinator: racing submits, stake, verdicts, export and proofs."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo

from swarmgen.coordinator.auditing import verify_live
from swarmgen.coordinator.faces.native.convert import job_request
from swarmgen.core import accounts
from swarmgen.core.audit import verify_export_bytes
from swarmgen.core.credits import PPM
from swarmgen.core.ledger import EntryKind
from swarmgen.core.proofs import JobProof
from swarmgen.errors import InsufficientCredits, SwarmgenError
from swarmgen.protocol import ImageJobIn
from swarmgen.sdk.client import SwarmgenAPIError
from swarmgen.sdk.worker_client import WorkerClient

RACERS = 50
AFFORDABLE = 10


def test_racing_submits_never_overspend(env: Env) -> None:
    """50 submits at once against a balance that covers 10: exactly 10 are accepted."""
    state = env.http.app.state
    body = job_request(ImageJobIn.model_validate(env.image()))
    env.new_key("racer")
    racer = env.reads.users.by_name("racer")
    price = state.jobs.quote(racer, body).price
    state.credits.grant("racer", AFFORDABLE * price)
    start = threading.Barrier(RACERS)

    def submit(_: int) -> str:
        start.wait()
        try:
            state.jobs.submit(racer, body)
        except InsufficientCredits:
            return "402"
        return "202"

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(submit, range(RACERS)))
    assert outcomes.count("202") == AFFORDABLE
    assert outcomes.count("402") == RACERS - AFFORDABLE
    assert env.reads.ledger.balance(accounts.user(racer.id)) == 0
    assert env.reads.jobs.reserved_total(racer.id) == AFFORDABLE * price
    assert verify_live(env.store, state.epochs.keys.public_key).ok


def owned_worker(env: Env, owner: str) -> tuple[WorkerClient, str]:
    key = env.new_key(owner)
    worker = env.worker()
    worker.owner_key = key
    worker.register(f"{owner}-w", MODELS, 1024 * 1024, 4)
    user = env.reads.users.by_name(owner)
    assert user is not None
    return worker, user.id


def run_one(env: Env, worker: WorkerClient) -> dict[str, Any]:
    job = env.submit(env.image())
    (assignment,) = worker.pop(0)
    worker.submit([run_echo(worker, assignment)])
    return job


def test_stake_lock_unlock_and_withdraw_after_the_delay(env: Env) -> None:
    state = env.http.app.state
    worker, owner_id = owned_worker(env, "olga")
    state.credits.grant("olga", 1_000)
    locked = worker.call("/api/v1/workers/stake/lock", {"amount": 600})
    assert (locked["locked"], locked["unbonding"]) == (600, 0)
    assert env.reads.ledger.balance(accounts.user(owner_id)) == 400
    with pytest.raises(SwarmgenAPIError) as too_much:
        worker.call("/api/v1/workers/stake/unlock", {"amount": 601})
    assert too_much.value.status == 409
    asked = worker.call("/api/v1/workers/stake/unlock", {"amount": 250})
    delay = state.settings.stake_unlock_epochs
    assert (asked["locked"], asked["unbonding"], asked["unlock_epoch"]) == (350, 250, delay)
    for _ in range(delay):
        with pytest.raises(SwarmgenAPIError) as early:
            worker.call("/api/v1/workers/stake/withdraw", {})
        assert early.value.status == 409
        state.epochs.close_due(force=True)
    done = worker.call("/api/v1/workers/stake/withdraw", {})
    assert (done["locked"], done["unbonding"], done["unlock_epoch"]) == (350, 0, None)
    assert env.reads.ledger.balance(accounts.user(owner_id)) == 650
    assert worker.call("/api/v1/workers/stake", {})["locked"] == 350


def test_stake_needs_an_owner_and_funds(env: Env) -> None:
    lone = env.worker()
    lone.register("lone", MODELS, 4096, 1)
    with pytest.raises(SwarmgenAPIError) as ownerless:
        lone.call("/api/v1/workers/stake/lock", {"amount": 1})
    assert ownerless.value.status == 403
    worker, _ = owned_worker(env, "pat")
    with pytest.raises(SwarmgenAPIError) as broke:
        worker.call("/api/v1/workers/stake/lock", {"amount": 1})
    assert broke.value.status == 402
    with pytest.raises(SwarmgenAPIError) as invalid:
        worker.call("/api/v1/workers/stake/lock", {"amount": 0})
    assert invalid.value.status == 422


def test_invalid_verdict_forfeits_earnings_and_slashes_stake(env: Env) -> None:
    state = env.http.app.state
    cheat, owner_id = owned_worker(env, "mallory")
    state.credits.grant("mallory", 10_000)
    cheat.call("/api/v1/workers/stake/lock", {"amount": 10_000})
    job = run_one(env, cheat)
    before = env.reads.ledger.balance(accounts.user(env.reads.users.by_name("alice").id))
    epoch = env.reads.ledger.open_epoch().epoch
    state.epochs.record_verdict(cheat.keys.public_key, epoch, True, {"failed_checks": 3})
    state.epochs.close_due(force=True)
    alice = env.reads.ledger.balance(accounts.user(env.reads.users.by_name("alice").id))
    fee = int(job["price"]) * state.settings.validator_fee_ppm // PPM
    assert alice == before + int(job["price"]) - fee  # the fee already went to the pool
    view = env.http.get(f"/api/v1/jobs/{job['id']}", headers=env.auth).json()
    assert view["payment"] == "forfeited"
    slashed = 10_000 * state.settings.slash_ppm // PPM
    assert cheat.call("/api/v1/workers/stake", {})["locked"] == 10_000 - slashed
    assert env.reads.ledger.balance(accounts.user(owner_id)) == 0  # no payout, no emission
    assert env.reads.ledger.balance(accounts.BURN) == slashed
    with pytest.raises(SwarmgenError):
        state.epochs.record_verdict(cheat.keys.public_key, epoch, True, {})  # sealed already
    assert verify_live(env.store, state.epochs.keys.public_key).ok


def test_unowned_workers_earnings_go_back_to_requesters(env: Env) -> None:
    state = env.http.app.state
    lone = env.worker()
    lone.register("lone", MODELS, 1024 * 1024, 4)
    job = run_one(env, lone)
    state.epochs.close_due(force=True)
    view = env.http.get(f"/api/v1/jobs/{job['id']}", headers=env.auth).json()
    assert view["payment"] == "forfeited"
    assert env.reads.ledger.balance(accounts.worker(lone.keys.public_key)) == 0


def test_export_verifies_and_any_byte_change_fails(env: Env) -> None:
    state = env.http.app.state
    worker, _ = owned_worker(env, "olga")
    job = run_one(env, worker)
    state.epochs.close_due(force=True)
    key = env.http.get("/api/v1/ledger/key").json()["coordinator"]
    held = verify_export_bytes(env.http.get("/api/v1/ledger/export").content, key)
    assert held.ok and (held.entries, held.seals) == (0, 0)  # sealed, but its check is pending
    assert env.http.get(f"/api/v1/ledger/proofs/{job['id']}").status_code == 404
    checker, _ = owned_worker(env, "vera")
    (validation,) = checker.pop(0)
    checker.submit([run_echo(checker, validation)])  # the check settles: epoch 0 is published
    tail = run_one(env, worker)  # entries not sealed yet
    data = env.http.get("/api/v1/ledger/export").content
    report = verify_export_bytes(data, key)
    assert report.ok, report
    opened = env.reads.ledger.epoch_entries(1)  # the sampling commitment, then the tail job
    assert [e.kind for e in opened][:1] == [EntryKind.SAMPLING_COMMIT]
    assert len(opened) > len(env.reads.ledger.job_entries(tail["id"])) > 0
    assert (report.seals, report.unsealed) == (1, 0)  # the open epoch is withheld
    assert env.http.get(f"/api/v1/ledger/proofs/{tail['id']}").status_code == 404
    position = data.index(str(job["price"]).encode())
    tampered = data[:position] + b"9" + data[position + 1 :]
    assert not verify_export_bytes(tampered, key).ok
    proof = env.http.get(f"/api/v1/ledger/proofs/{job['id']}").json()
    assert JobProof.from_dict(proof).verify(key)
    assert not JobProof.from_dict(proof).verify(worker.keys.public_key)
    assert env.http.get("/api/v1/ledger/proofs/nope").status_code == 404
