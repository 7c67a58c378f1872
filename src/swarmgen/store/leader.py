"""Leadership of once-per-deployment work: who among the server processes runs it.

Several server processes (``--processes N``) or replicas share one database; the lease
reaper and the epoch closer must run in one of them at a time. The leader is whoever holds
a lock that dies with it:

- on PostgreSQL, a session-level advisory lock (``pg_try_advisory_lock``) held on a
  dedicated connection. The lock is keyed by the current schema, so two deployments in
  one database (each its own schema) elect their own leaders. When that connection is
  lost the server releases the lock, the holder notices on its next check and stops
  leading, and another replica takes it;
- on SQLite, an exclusive ``flock`` on ``leader.lock`` in the data folder: every process
  of the deployment shares the folder, and the kernel drops the lock when its holder dies.

Both are blocking calls: the coordinator calls :meth:`refresh` off the event loop.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from swarmgen.store.port import Store
from swarmgen.store.sql import SqlStore

log = logging.getLogger(__name__)

LOCK_CLASS = 0x5767
"""First half of the advisory-lock key ("Sg"); the second is a hash of the schema name."""

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:cls, hashtext(current_schema()))")
_UNLOCK = text("SELECT pg_advisory_unlock(:cls, hashtext(current_schema()))")


class Leadership(Protocol):
    """A lock that at most one process of a deployment holds."""

    @property
    def is_leader(self) -> bool:
        """Whether this process held the lock at the last :meth:`refresh`."""
        ...

    def refresh(self) -> bool:
        """Keep the lock (checking it is still held) or try to take it; returns ``is_leader``."""
        ...

    def release(self) -> None:
        """Give the lock up so another process can lead (at shutdown)."""
        ...


class AdvisoryLock:
    """Leadership on PostgreSQL: a session advisory lock on a connection of its own."""

    def __init__(self, engine: Engine, lock_class: int = LOCK_CLASS) -> None:
        self._engine = engine
        self._class = lock_class
        self._conn: Connection | None = None
        self._leading = False
        self._mutex = threading.Lock()

    @property
    def is_leader(self) -> bool:
        return self._leading

    def refresh(self) -> bool:
        with self._mutex:
            try:
                if self._conn is None:
                    # Autocommit: the lock belongs to the session, and an idle session must
                    # not sit in an open transaction.
                    conn = self._engine.connect()
                    self._conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                if self._leading:
                    self._conn.execute(text("SELECT 1"))  # the session, and so the lock, lives
                else:
                    taken = self._conn.execute(_TRY_LOCK, {"cls": self._class}).scalar()
                    self._leading = bool(taken)
                    if self._leading:
                        log.info("leading the periodic tasks (PostgreSQL advisory lock)")
            except SQLAlchemyError:
                if self._leading:
                    log.warning("lost the leader connection; no longer leading", exc_info=True)
                self._drop()
            return self._leading

    def release(self) -> None:
        with self._mutex:
            if self._conn is not None and self._leading:
                try:
                    self._conn.execute(_UNLOCK, {"cls": self._class})
                except SQLAlchemyError:
                    log.warning("could not unlock the leader lock; closing its connection")
            self._drop()

    def _drop(self) -> None:
        """Close the dedicated connection for good: a session lock must not go back to the pool."""
        conn, self._conn, self._leading = self._conn, None, False
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except SQLAlchemyError:
                log.debug("closing a broken leader connection failed", exc_info=True)


class FileLock:
    """Leadership on SQLite: an exclusive ``flock`` on a file in the data folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._mutex = threading.Lock()

    @property
    def is_leader(self) -> bool:
        return self._fd is not None

    def refresh(self) -> bool:
        import fcntl  # POSIX only; imported where used so the store imports anywhere

        with self._mutex:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    return False
                self._fd = fd
                log.info("leading the periodic tasks (%s)", self.path)
            return True

    def release(self) -> None:
        import fcntl

        with self._mutex:
            fd, self._fd = self._fd, None
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def leadership_for(store: Store, data: Path) -> Leadership:
    """The leadership lock that fits the deployment's database (nothing is taken yet).

    PostgreSQL replicas elect over an advisory lock; anything else (SQLite, the in-memory
    store) runs on one host, where a lock file in the data folder elects one process.
    """
    if isinstance(store, SqlStore) and store.engine.dialect.name == "postgresql":
        return AdvisoryLock(store.engine)
    return FileLock(data / "leader.lock")
