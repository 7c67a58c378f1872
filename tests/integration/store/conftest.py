"""The store under test: migrated on each database (SQLite always, PostgreSQL when it
answers), and the in-memory fake, which must pass the same tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmgen.store import SqlStore, Store, open_store
from swarmgen.store.memory import MemoryStore

SQL = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path / 'swarmgen.db'}"
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    opened = open_store(url)
    yield opened
    opened.dispose()


@pytest.fixture(params=[*SQL, "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    yield from _opened(request, tmp_path)


@pytest.fixture(params=SQL)
def sql(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """The SQL adapter alone, on each database (for what only it has)."""
    yield from _opened(request, tmp_path)
