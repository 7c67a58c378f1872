"""An in-process coordinator on a real database, with a fake clock, a user and a worker."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from swarmgen.clock import FakeClock
from swarmgen.coordinator.admin import create_key
from swarmgen.coordinator.app import create_app
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.signing import KeyPair
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.store import SqlStore, make_engine, migrate

ALICE_CREDITS = 1_000_000_000
"""What the fixture user starts with: enough for every job the tests submit."""


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
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

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
    engine = make_engine(database_url)
    migrate(engine)
    store = SqlStore(engine)
    clock = Clock()
    settings = CoordinatorSettings(
        data=tmp_path,
        database_url=database_url,
        lease_min_s=5,
        max_attempts=2,
        **settings_overrides,
    )
    app = create_app(settings, store=store, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as http:
        key = create_key(store, clock, "alice").key
        app.state.credits.grant("alice", ALICE_CREDITS)
        yield Env(http, store, clock, key, tmp_path)
    engine.dispose()
