"""A signed request's nonce, recorded by the first write transaction that handles it.

Every signed worker request carries a nonce, recorded once so that a replay of the
request is refused. Recorded in a transaction of its own, it cost every worker request
one more write transaction than its work needed (an idle pop: two where one does).
Instead, the request's handling runs inside :func:`pending` and the store's first write
transaction in that context records the nonce as it begins; a nonce seen before
raises :class:`~swarmgen.errors.ReplayedNonce` there, before anything is written. The
nonce counts as recorded once that transaction has committed.

Whoever opened :func:`pending` records the nonce on its own when nothing did: a request
whose handling wrote nothing, failed before writing, or whose transaction rolled back.
So every signed request's nonce is recorded, refused requests included, and none
twice. The context travels into threads started with a copy of it (``asyncio.to_thread``,
``run_in_threadpool``); a thread pool or thread of the store's own never sees it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from swarmgen.errors import ReplayedNonce


@dataclass
class Nonce:
    """One signed request's nonce, and whether a committed transaction holds it."""

    worker_id: str
    nonce: str
    seen_ms: int
    recorded: bool = False


class Nonces(Protocol):
    def remember(self, worker_id: str, nonce: str, now: int) -> bool: ...


_PENDING: ContextVar[Nonce | None] = ContextVar("swarmgen_pending_nonce", default=None)


@contextlib.contextmanager
def pending(nonce: Nonce) -> Iterator[Nonce]:
    """Write transactions opened in this block (and in threads it starts) record
    ``nonce``, the first that commits for good."""
    token = _PENDING.set(nonce)
    try:
        yield nonce
    finally:
        _PENDING.reset(token)


def claim(nonces: Nonces) -> Nonce | None:
    """Called by a write transaction as it begins: record this context's nonce in it,
    unless a committed one already has; the nonce to mark recorded (:attr:`Nonce.recorded`)
    once it commits. :class:`ReplayedNonce` if the nonce was used before."""
    nonce = _PENDING.get()
    if nonce is None or nonce.recorded:
        return None
    if not nonces.remember(nonce.worker_id, nonce.nonce, nonce.seen_ms):
        raise ReplayedNonce("this nonce was already used")
    return nonce
