"""An in-process coordinator on a real database, with a fake clock, a user and a worker."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from swarmgen.clock import FakeClock
from swarmgen.coordinator.admin import create_key
from swarmgen.coordinator.app import create_app
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.signing import KeyPair
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.store import SqlStore, open_store

ALICE_CREDITS = 1_000_000_000
"""What the fixture user starts with: enough for every job the tests submit."""

SKEW_S = 1800
"""Accepted skew of signed timestamps in these tests. Workers sign with the real time while
the test clock moves only when told, so on a slow host a long test's requests drifted past
the default 60 s and were refused as stale; a request an hour old still is."""


class Reads:
    """Each repository call in a short transaction of its own, as a test reads state:
    ``env.reads.jobs.get(job_id)``, ``env.reads.ledger.balance(account)``. A ledger read
    chains the journal first (PostgreSQL), as the live export does, so it sees every
    posting made."""

    def __init__(self, store: SqlStore, repository: str | None = None) -> None:
        self._store = store
        self._repository = repository

    def __getattr__(self, name: str) -> Any:
        if self._repository is None:
            return Reads(self._store, name)
        repository = self._repository

        def call(*args: Any, **kwargs: Any) -> Any:
            if repository == "ledger":
                self._store.chain_journal()
            with self._store.transaction() as tx:
                method: Callable[..., Any] = getattr(getattr(tx, repository), name)
                return method(*args, **kwargs)

        return call


class Clock(FakeClock):
    """A fake clock that starts at the real time, so signed timestamps are fresh."""

    def __init__(self) -> None:
        import time

        super().__init__(int(time.time() * 1000))


@dataclass
class Env:
    http: TestClient
    store: SqlStore
    clock: Clock
    key: str
    data: Path

    @property
    def reads(self) -> Any:
        return Reads(self.store)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def next_window(self, after_s: float = 0.0) -> None:
        """Move the clock to ``after_s`` seconds into the next public window (when the
        network view shows what happened before it)."""
        size = self.http.app.state.settings.public_window_s * 1000
        self.clock.ms += size - self.clock.ms % size + int(after_s * 1000)

    def new_key(self, user: str) -> str:
        return create_key(self.store, self.clock, user).key

    def worker(self, keys: KeyPair | None = None) -> WorkerClient:
        return WorkerClient("http://testserver", keys or KeyPair.generate(), http=self.http)

    def image(self, **fields: object) -> dict[str, object]:
        return {"kind": "image", "model": "echo-image@fp32", "prompt": "a red circle", **fields}

    def text(self, **fields: object) -> dict[str, object]:
        return {"kind": "text", "model": "echo-text@fp32", "prompt": "hello", **fields}

    def submit(self, body: dict[str, object], key: str | None = None) -> dict[str, object]:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        response = self.http.post("/api/v1/jobs", json=body, headers=headers)
        assert response.status_code == 202, response.text
        accepted: dict[str, object] = response.json()
        return accepted


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Coordinator settings a test changes: services read their settings once, at start.

    Override with ``@pytest.mark.parametrize("settings_overrides", [{...}])``.
    """
    return {}


@pytest.fixture
def env(database_url: str, tmp_path: Path, settings_overrides: dict[str, Any]) -> Iterator[Env]:
    store = open_store(database_url)
    clock = Clock()
    settings = CoordinatorSettings(
        data=tmp_path,
        database_url=database_url,
        lease_min_s=5,
        max_attempts=2,
        clock_skew_s=SKEW_S,
        # tests about stake, or about the drawn panel, set their own; without stake
        # cheating is not priced, which the start-up check would refuse; tests about
        # how seats are paced among ordinary jobs set a hold
        **{
            "min_stake": 0,
            "seat_hold_s": 0,
            "panel_stages": (1, 3, 5),
            "trusted_workers": True,
            **settings_overrides,
        },
    )
    app = create_app(settings, store=store, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as http:
        key = create_key(store, clock, "alice").key
        app.state.credits.grant("alice", ALICE_CREDITS)
        yield Env(http, store, clock, key, tmp_path)
    store.dispose()


@pytest.fixture
def served(env: Env) -> Iterator[str]:
    """The env's app also served by uvicorn on a loopback port, in a thread (its lifespan
    already runs under the env's test client)."""
    config = uvicorn.Config(
        env.http.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
