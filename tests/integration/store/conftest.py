"""A migrated store on each database (SQLite always, PostgreSQL when it answers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from swarmgen.store import SqlStore, open_store


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()
