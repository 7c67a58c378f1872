"""SQLite's log is checkpointed by the store's thread, never by a commit, and stays
bounded under a writer that never pauses."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmgen.store import SqlStore, open_store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    store = open_store(f"sqlite:///{tmp_path / 'swarmgen.db'}")
    assert store.checkpoints is not None
    store.checkpoints.interval_s = 0.05
    yield store
    store.dispose()


def log_bytes(store: SqlStore) -> int:
    path = f"{store.engine.url.database}-wal"
    return os.path.getsize(path) if os.path.exists(path) else 0


def write(store: SqlStore, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with store.transaction() as tx:
            tx.nonces.remember("w", f"nonce-{i}", i)


def test_no_commit_checkpoints_the_log_the_store_s_thread_does(sqlite_store: SqlStore) -> None:
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    checkpoints = sqlite_store.checkpoints
    assert checkpoints is not None and checkpoints.runs == 0
    write(sqlite_store, 50)
    deadline = time.monotonic() + 5
    while checkpoints.runs == 0:
        assert time.monotonic() < deadline, "no checkpoint ran after the writes"
        time.sleep(0.01)
    busy, frames, copied = checkpoints.checkpoint()
    assert (busy, frames) == (0, copied)  # everything written is in the database file


def test_the_log_stays_bounded_under_a_writer_that_never_pauses(sqlite_store: SqlStore) -> None:
    """Passive checkpoints alone seldom let a busy log start over (each ends with new
    writes behind it): past its bound one catches up with the writers held back, and the
    log starts over. Without that (a bound never reached) it keeps growing.

    Both halves make the same writes, flat out, each from an empty log. Without catch-ups
    the log's file holds all of them, however fast the host; with them it holds what was
    written between two checkpoint runs. So the halves differ by writes, not by how
    soon the checkpoint thread is scheduled (timing both halves instead grew the second
    to 83-91 MB on an idle host and to 6.8 MB, barely past the first, on a busy one)."""
    checkpoints = sqlite_store.checkpoints
    assert checkpoints is not None
    checkpoints.most_frames = 300
    writes = 8_000

    def log_after_writes(start: int) -> int:
        deadline = time.monotonic() + 5
        while checkpoints.checkpoint("TRUNCATE")[0]:  # busy: the thread's own checkpoint
            assert time.monotonic() < deadline, "the log could not be emptied"
            time.sleep(0.01)
        assert log_bytes(sqlite_store) == 0  # an empty log file: no high-water mark yet
        write(sqlite_store, writes, start)
        return log_bytes(sqlite_store)  # the file keeps its high-water mark

    bounded = log_after_writes(0)
    assert checkpoints.held > 0

    checkpoints.most_frames = 10**9  # passive checkpoints only
    grown = log_after_writes(writes)
    assert grown > bounded + 4 * 300 * 4096, (bounded, grown)
    assert bounded * 2 < grown, (bounded, grown)


def test_a_disposed_store_leaves_its_log_checkpointed(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'swarmgen.db'}")
    write(store, 20)
    checkpoints = store.checkpoints
    assert checkpoints is not None
    store.dispose()
    runs = checkpoints.runs
    assert runs >= 1
    write(store, 5, 100)  # used after dispose: it still works, with no thread to start
    assert checkpoints.runs == runs
    store.dispose()


def test_a_store_in_memory_has_no_log_to_checkpoint() -> None:
    store = open_store("sqlite://")
    assert store.checkpoints is None
    store.dispose()
