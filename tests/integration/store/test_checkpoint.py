"""SQLite's log is checkpointed by the store's thread, never by a commit, and stays
bounded under a writer that never pauses."""

from __future__ import annotations

import os
import threading
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

    Both halves write flat out for the same time. How far the log's file grows before
    a catch-up lands depends on how soon the checkpoint thread is scheduled (a busy host
    is slower; here 7-24 MB for the first half, 83-91 MB for the second), so the bound
    is relative: well below what the same writes make of it without catch-ups."""
    checkpoints = sqlite_store.checkpoints
    assert checkpoints is not None
    checkpoints.most_frames = 300

    def write_for(seconds: float) -> int:
        stop = threading.Event()
        written = [0]

        def writer() -> None:
            while not stop.is_set():
                write(sqlite_store, 100, written[0])
                written[0] += 100

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(seconds)
        stop.set()
        thread.join()
        return log_bytes(sqlite_store)  # the file keeps its high-water mark

    bounded = write_for(3.0)
    assert checkpoints.held > 0

    checkpoints.most_frames = 10**9  # passive checkpoints only
    grown = write_for(3.0)
    assert grown > bounded + 4 * 300 * 4096
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
