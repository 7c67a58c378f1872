"""Result uploads: one thread sends what is waiting, batches that queued meanwhile together.

The worker computes a batch while the previous one is sent. When sending is the slower
side, finished batches queue behind the request in flight; the next request takes all
of them (up to a request's most jobs and :data:`IMAGE_BYTES` of images) instead of one
request each. A coordinator pays a fixed cost per request (a signature, a transaction,
the HTTP exchange), so fewer, fuller requests cost it less per job. Nothing waits for
company: a request leaves as soon as the one before it is answered, with whatever
finished meanwhile.

``put`` waits while :data:`MOST_WAITING` batches, or a full request's worth, already
wait behind the request in flight: the worker computes no further ahead of its uploads,
and holds at most a request in flight, the batches waiting and the pop it is running
(:data:`~swarmgen.protocol.workers.MAX_HELD`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from swarmgen.protocol import ResultIn
from swarmgen.protocol.workers import MAX_JOBS

log = logging.getLogger(__name__)

IMAGE_BYTES = 8 * 1024 * 1024
"""Most base64 image bytes one request gathers from several batches (a quarter of the
coordinator's default worker body limit); a batch larger on its own still goes alone."""

MOST_WAITING = 2
"""Most batches waiting behind the request in flight before ``put`` waits."""


@dataclass(frozen=True)
class Batch:
    """One backend batch's results, in the order its jobs ran."""

    results: list[ResultIn]

    @property
    def job_ids(self) -> list[str]:
        return [result.job_id for result in self.results]

    @property
    def image_bytes(self) -> int:
        return sum(len(image) for result in self.results for image in result.images or ())


Send = Callable[[list[Batch]], None]
"""Sends the batches one request carries; a batch is never split."""


class Uploads:
    """Batches queued in order and sent by one thread, those waiting together."""

    def __init__(self, send: Send, *, most_jobs: int = MAX_JOBS) -> None:
        self._send = send
        self._most_jobs = most_jobs
        self._waiting: list[Batch] = []
        self._closed = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="upload", daemon=True)
        self._thread.start()

    def put(self, results: Sequence[ResultIn]) -> None:
        """Queue a batch, first waiting while enough already waits (module docstring)."""
        batch = Batch(list(results))
        with self._changed:
            self._changed.wait_for(lambda: self._closed or not self._full())
            if self._closed:
                raise RuntimeError("uploads are closed")
            self._waiting.append(batch)
            self._changed.notify_all()

    def close(self) -> None:
        """Send what is waiting, then stop the thread."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join()

    def _full(self) -> bool:
        jobs = sum(len(batch.results) for batch in self._waiting)
        images = sum(batch.image_bytes for batch in self._waiting)
        return (
            len(self._waiting) >= MOST_WAITING or jobs >= self._most_jobs or images >= IMAGE_BYTES
        )

    def _take(self) -> list[Batch]:
        """The waiting batches one request carries: the first always, then others while
        they fit."""
        taken = [self._waiting[0]]
        jobs, images = len(taken[0].results), taken[0].image_bytes
        for batch in self._waiting[1:]:
            jobs += len(batch.results)
            images += batch.image_bytes
            if jobs > self._most_jobs or images > IMAGE_BYTES:
                break
            taken.append(batch)
        del self._waiting[: len(taken)]
        return taken

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._closed or bool(self._waiting))
                if not self._waiting:  # closed, and everything sent
                    return
                taken = self._take()
                self._changed.notify_all()  # room for a waiting put
            try:
                self._send(taken)
            except Exception:  # the thread goes on; the sender settles its own failures
                log.exception("upload of %s failed", [b.job_ids for b in taken])
