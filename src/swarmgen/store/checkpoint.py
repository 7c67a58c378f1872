"""SQLite's write-ahead log, copied back into the database off the request path.

Left to itself, SQLite checkpoints the WAL inside whichever commit finds it past 1,000
pages: that commit then copies the pages into the database file and syncs it, about
10–14 ms on this project's hosts against a usual 0.04 ms, while the writer lock waits.
Under light load those commits were the slowest submits and leases (decision 0028). So
connections of a file database turn the automatic checkpoint off
(:mod:`swarmgen.store.engine`), and :class:`Checkpointer` runs a passive checkpoint in a
thread of its own shortly after writes: a passive checkpoint takes no writer's lock and
waits for no reader, so commits go on beside it.

A passive checkpoint copies what the log held when it began; the log starts over from
its beginning only when a write begins with everything in it copied. Under a steady
stream of writes that moment never comes (each checkpoint ends with new writes behind
it), and the log would grow without end: so when a checkpoint finds more than
:data:`MOST_FRAMES` in the log, a second one follows at once holding this process's
writers back (its :class:`~swarmgen.store.serial.WriterLock`), in ``RESTART`` mode (it
also waits, briefly, for other processes' writers and for older readers). It has only
the writes made during the first to copy, and the next write starts the log over.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from sqlalchemy import Engine

from swarmgen.store.engine import BUSY_TIMEOUT_MS

log = logging.getLogger(__name__)

INTERVAL_S = 0.25
"""How long after a write the checkpoint runs: writes of that spell go in one."""

RESTART_WAIT_MS = 100
"""How long a catching-up checkpoint waits for other writers and older readers."""

MOST_FRAMES = 2000
"""Frames (pages) in the log past which a checkpoint catches up with writers held back:
twice what SQLite's own checkpoint lets the log reach (8 MB at 4 KB pages)."""


class Checkpointer:
    """Checkpoints ``engine``'s WAL (``PRAGMA wal_checkpoint(PASSIVE)``) in a daemon
    thread, ``interval_s`` after :meth:`wrote` is first called since the last one.

    The thread starts with the first write; :meth:`close` checkpoints what is left and
    stops it."""

    def __init__(
        self,
        engine: Engine,
        writers: contextlib.AbstractContextManager[object] | None = None,
        interval_s: float = INTERVAL_S,
        most_frames: int = MOST_FRAMES,
    ) -> None:
        self.engine = engine
        self.writers = writers or contextlib.nullcontext()
        """Held by a checkpoint that must catch up: this process's writers wait for it."""
        self.interval_s = interval_s
        self.most_frames = most_frames
        self.runs = 0
        """Checkpoints run (tests read it)."""
        self.held = 0
        """Of those, how many held the writers back."""
        self._due = threading.Event()
        self._closed = threading.Event()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None

    def wrote(self) -> None:
        """A write transaction committed: checkpoint soon."""
        self._due.set()
        if self._thread is None:
            with self._start:
                if self._thread is None and not self._closed.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name="sqlite-checkpoint", daemon=True
                    )
                    self._thread.start()

    def checkpoint(self, mode: str = "PASSIVE") -> tuple[int, int, int]:
        """One checkpoint now: ``(busy, frames in the log, frames copied)``.

        ``RESTART`` also waits for writers of other processes and for readers of older
        snapshots, so that the next write starts the log over: for at most
        :data:`RESTART_WAIT_MS`, then it does what it can."""
        conn = self.engine.raw_connection()  # outside a transaction: no BEGIN
        cursor = conn.cursor()
        try:
            if mode == "RESTART":
                cursor.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            row = cursor.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        finally:
            if mode == "RESTART":
                cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.close()
            conn.close()
        self.runs += 1
        return int(row[0]), int(row[1]), int(row[2])

    def _run(self) -> None:
        while not self._closed.is_set():
            self._due.wait()
            if self._closed.wait(self.interval_s):
                break
            self._due.clear()  # writes from here on call for the next one
            try:
                _, frames, _ = self.checkpoint()
                if frames > self.most_frames:  # the log is not starting over: catch up
                    with self.writers:
                        self.checkpoint("RESTART")
                    self.held += 1
            except Exception:  # a checkpoint that fails is retried after the next write
                log.exception("the WAL checkpoint failed")

    def close(self) -> None:
        """Stop the thread after one last checkpoint of what was written."""
        self._closed.set()
        self._due.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
            try:
                self.checkpoint()
            except Exception:  # the next to open the database checkpoints it
                log.exception("the last WAL checkpoint failed")
