"""Leadership on SQLite: one ``flock`` holder per data folder, handed over on release."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine

from swarmgen.store.leader import AdvisoryLock, FileLock, leadership_for
from swarmgen.store.memory import memory_store
from swarmgen.store.sql import SqlStore


def test_one_of_two_leads_and_the_other_takes_over_on_release(tmp_path: Path) -> None:
    first, second = FileLock(tmp_path / "leader.lock"), FileLock(tmp_path / "leader.lock")
    assert first.refresh() and first.is_leader
    assert not second.refresh() and not second.is_leader
    assert first.refresh()  # keeping it is idempotent
    first.release()
    assert not first.is_leader
    assert second.refresh() and second.is_leader
    assert not first.refresh()
    second.release()


def test_the_lock_fits_the_database(tmp_path: Path) -> None:
    sqlite = create_engine(f"sqlite:///{tmp_path / 'swarmgen.db'}")
    lock = leadership_for(SqlStore(sqlite), tmp_path)
    assert isinstance(lock, FileLock) and lock.path == tmp_path / "leader.lock"
    postgres = create_engine("postgresql+psycopg://127.0.0.1/none")  # never connected
    assert isinstance(leadership_for(SqlStore(postgres), tmp_path), AdvisoryLock)
    assert isinstance(leadership_for(memory_store(), tmp_path), FileLock)
