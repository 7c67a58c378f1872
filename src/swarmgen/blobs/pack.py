"""Small blobs packed in one SQLite file of the blob folder, instead of a file each.

A text output or a small image is a few hundred bytes to a few kilobytes, and a busy
network makes millions: as files, each costs an inode, and creating one is most of what
storing it costs. On this project's test hosts (ext4 without a journal, where the kernel
skips every inode freed in the last minutes when it picks a new one) a new file cost
400–700 µs of CPU after a burst of deletions, against about 20 µs for a row here
(``bench/blob_writes.py``). SQLite's own measurements put reads of blobs under about
100 kB faster from a database than from files, too.

The pack is a table ``blobs(key, data)`` keyed by the digest's 32 bytes, in WAL mode, so
the coordinator's processes on one folder write it in turn and read it at any time. Each
thread has its own connection (opened on first use, again after a fork). A batch of
blobs is one transaction; writing a key again overwrites it, as the file store does, so
a rewrite heals a row changed behind the store's back. Nothing here trusts what it reads:
:class:`~swarmgen.blobs.FileBlobStore` checks every blob against its key.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

BUSY_TIMEOUT_MS = 30_000
"""How long a write waits for another process's write to the pack before it fails."""

_SCHEMA = "CREATE TABLE IF NOT EXISTS blobs (key BLOB PRIMARY KEY, data BLOB NOT NULL)"
_PUT = (
    "INSERT INTO blobs (key, data) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET data = excluded.data"
)
_GET = "SELECT data FROM blobs WHERE key = ?"


class BlobPack:
    """The pack at ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._schema_made = False

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        if not self._schema_made:
            conn.execute(_SCHEMA)
            self._schema_made = True
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def put_many(self, blobs: Sequence[tuple[str, bytes]]) -> None:
        """Store each ``(key, data)``, all in one transaction."""
        if not blobs:
            return
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(_PUT, [(bytes.fromhex(key), data) for key, data in blobs])
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def get(self, key: str) -> bytes | None:
        """The bytes stored under ``key`` (unchecked), or None."""
        row = self._connection().execute(_GET, (bytes.fromhex(key),)).fetchone()
        return None if row is None else bytes(row[0])
