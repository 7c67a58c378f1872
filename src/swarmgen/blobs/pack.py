"""Small blobs packed in one SQLite file of the blob folder, instead of a file each.

A text output or a small image is a few hundred bytes to a few kilobytes, and a busy
network makes millions: as files, each costs an inode, and creating one is most of what
storing it costs. On this project's test hosts (ext4 without a journal, where the kernel
skips every inode freed in the last minutes when it picks a new one) a new file cost
140–480 µs of CPU, against about 11 µs for a row here (``bench/blob_writes.py``,
decision 0035).

The pack is a table ``blobs(key, data)`` keyed by the digest's 32 bytes, in WAL mode, so
the coordinator's processes on one folder write it in turn and read it at any time. The
threads of one process take turns at a lock of their own before SQLite's (as the store's
writers do, decision 0026); each thread has its own connection. A process uses the pack
it opened: SQLite's locks do not survive a fork, so a pack used across one would lose
writes, and is refused instead. A batch of blobs is one transaction; writing a key again
overwrites it, as the file store does, so a rewrite heals a row changed behind the
store's back. Nothing here trusts what it reads: :class:`~swarmgen.blobs.FileBlobStore`
checks every blob against its key. Any failure of the database is
:class:`~swarmgen.errors.StorageUnavailable`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from swarmgen.errors import StorageUnavailable

BUSY_TIMEOUT_S = 30.0
"""How long a write waits for another process's write to the pack before it fails."""

_SCHEMA = "CREATE TABLE IF NOT EXISTS blobs (key BLOB PRIMARY KEY, data BLOB NOT NULL)"
_PUT = (
    "INSERT INTO blobs (key, data) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET data = excluded.data"
)
_GET = "SELECT data FROM blobs WHERE key = ?"
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class BlobPack:
    """The pack at ``path`` (the file, its WAL mode and its table made on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pid = os.getpid()
        self._writer = threading.Lock()
        self._local = threading.local()
        self._open: list[sqlite3.Connection] = []
        self._open_lock = threading.Lock()

    def create(self) -> None:
        """Make the pack now: before processes that start together race to make it."""
        with self._failing("open"):
            self._connection()

    def close(self) -> None:
        """Close every thread's connection; a later use opens one again."""
        with self._open_lock:
            opened, self._open = self._open, []
        for conn in opened:
            conn.close()

    def put_many(self, blobs: Sequence[tuple[str, bytes]]) -> None:
        """Store each ``(key, data)``, all in one transaction."""
        if not blobs:
            return
        rows = [(bytes.fromhex(key), data) for key, data in blobs]
        with self._failing("store"), self._writer:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(_PUT, rows)
                conn.execute("COMMIT")
            except BaseException:
                self._roll_back(conn)
                raise

    def get(self, key: str) -> bytes | None:
        """The bytes stored under ``key`` (unchecked), or None."""
        with self._failing("read"):
            row = self._connection().execute(_GET, (bytes.fromhex(key),)).fetchone()
        return None if row is None else row[0]

    @contextlib.contextmanager
    def _failing(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"could not {what} the blob pack {self.path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:
            raise RuntimeError(f"the blob pack {self.path} was opened by another process")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and conn in self._open:
            return conn
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            _to_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
        except BaseException:
            conn.close()
            raise
        with self._open_lock:
            self._open.append(conn)
        self._local.conn = conn
        return conn

    def _roll_back(self, conn: sqlite3.Connection) -> None:
        """End what a failed write left open; a connection that cannot is dropped, so no
        lock stays held behind it."""
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            with self._open_lock:
                if conn in self._open:
                    self._open.remove(conn)
            conn.close()


def _to_wal(conn: sqlite3.Connection) -> None:
    """Put the pack in WAL mode (kept in the file: a no-op once done). Switching needs the
    whole file, and SQLite's busy timeout does not wait for it: retried here."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in _BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
            continue
        if mode != "wal":
            raise sqlite3.OperationalError(f"the blob pack stays in {mode} mode, not WAL")
        return
