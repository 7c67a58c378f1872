"""The store under test: migrated on each database (SQLite always, PostgreSQL when it
answers), and the in-memory fake, which must pass the same tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmgen.store import Store, open_store
from swarmgen.store.memory import MemoryStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    url = f"sqlite:///{tmp_path / 'swarmgen.db'}"
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    opened = open_store(url)
    yield opened
    opened.dispose()
