"""The in-memory store runs the coordinator end to end: jobs, checks, epochs, the ledger."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from tests.integration.coordinator.helpers import MODELS, run_echo

from swarmgen.clock import FakeClock
from swarmgen.coordinator.admin import create_key
from swarmgen.coordinator.app import create_app
from swarmgen.coordinator.auditing import verify_live
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.signing import KeyPair
from swarmgen.core.stake import MIN_STAKE
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.store.memory import MemoryStore

OWNERS = ("ann", "bob", "cat", "dan")
"""A claimant and the three validators the default first stage draws."""


def validate(workers: list[WorkerClient]) -> list[dict[str, Any]]:
    """Each worker pops and runs what it was drawn for; returns the seats run."""
    seats = []
    for worker in workers:
        for seat in worker.pop(0, 4):
            worker.submit([run_echo(worker, seat)])
            seats.append(seat)
    return seats


def test_a_job_runs_is_checked_and_its_epoch_seals_on_the_memory_store(tmp_path: Path) -> None:
    store, clock = MemoryStore(), FakeClock(int(time.time() * 1000))
    settings = CoordinatorSettings(data=tmp_path, seat_hold_s=0)  # seats go out once drawn
    app = create_app(settings, store=store, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as http:
        key = create_key(store, clock, "alice").key
        app.state.credits.grant("alice", 10**9)
        workers = []
        for owner in OWNERS:
            worker = WorkerClient("http://testserver", KeyPair.generate(), http=http)
            worker.owner_key = create_key(store, clock, owner).key
            app.state.credits.grant(owner, MIN_STAKE)
            worker.register(f"{owner}-w", MODELS, 1024 * 1024, 4)
            worker.lock_stake(MIN_STAKE)  # serving needs an owner and stake
            workers.append(worker)
        body = {"kind": "image", "model": "echo-image@fp32", "prompt": "a red circle"}
        job = http.post("/api/v1/jobs", json=body, headers={"Authorization": f"Bearer {key}"})
        assert job.status_code == 202, job.text
        (assignment,) = workers[0].pop(0)
        workers[0].submit([run_echo(workers[0], assignment)])
        seats = validate(workers[1:])  # every job of a new worker is checked, by three
        assert len(seats) == 3 and all(s["spec"] == assignment["spec"] for s in seats)
        assert job.json()["id"] not in {s["job_id"] for s in seats}
        seal = app.state.epochs.close_due(force=True)
        assert seal is not None and seal.epoch == 0
        assert verify_live(store, app.state.epochs.keys.public_key).ok
        view = http.get(
            f"/api/v1/jobs/{job.json()['id']}", headers={"Authorization": f"Bearer {key}"}
        )
        assert view.json()["payment"] == "paid"


def test_a_checked_jobs_earnings_wait_for_its_check_on_the_memory_store(tmp_path: Path) -> None:
    store, clock = MemoryStore(), FakeClock(int(time.time() * 1000))
    settings = CoordinatorSettings(data=tmp_path, seat_hold_s=0)  # seats go out once drawn
    app = create_app(settings, store=store, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as http:
        auth = {"Authorization": f"Bearer {create_key(store, clock, 'alice').key}"}
        app.state.credits.grant("alice", 10**9)
        workers = []
        for owner in OWNERS:
            worker = WorkerClient("http://testserver", KeyPair.generate(), http=http)
            worker.owner_key = create_key(store, clock, owner).key
            app.state.credits.grant(owner, MIN_STAKE)
            worker.register(f"{owner}-w", MODELS, 1024 * 1024, 4)
            worker.lock_stake(MIN_STAKE)  # serving needs an owner and stake
            workers.append(worker)
        body = {"kind": "image", "model": "echo-image@fp32", "prompt": "a red circle"}
        job_id = http.post("/api/v1/jobs", json=body, headers=auth).json()["id"]
        (assignment,) = workers[0].pop(0)
        with store.transaction() as tx:
            assert tx.jobs.get(job_id).leased_ms == clock.now_ms()  # dispatch stamps the lease
        clock.advance(2)
        workers[0].submit([run_echo(workers[0], assignment)])
        app.state.epochs.close_due(force=True)  # its check is pending: held, not paid
        view = http.get(f"/api/v1/jobs/{job_id}", headers=auth).json()
        assert view["payment"] == "pending"
        assert len(validate(workers[1:])) == 3
        app.state.epochs.close_due(force=True)
        assert http.get(f"/api/v1/jobs/{job_id}", headers=auth).json()["payment"] == "paid"
        assert verify_live(store, app.state.epochs.keys.public_key).ok


def test_users_are_found_by_id() -> None:
    store = MemoryStore()
    key = create_key(store, FakeClock(1), "ann")
    with store.transaction() as tx:
        ann = tx.users.by_name("ann")
        assert ann is not None and tx.users.by_id(ann.id) == ann
        assert tx.users.by_id("nobody") is None and key.key
