"""Request nonces of signed worker requests: each may be used once per worker."""

from __future__ import annotations

from swarmgen.store import schema as t
from swarmgen.store.base import Repository


class NonceRepository(Repository):
    def remember(self, worker_id: str, nonce: str, now: int) -> bool:
        """Record a request nonce; False when this worker has used it before."""
        stmt = (
            self.dialect_insert(t.nonces)
            .values(worker_id=worker_id, nonce=nonce, seen_ms=now)
            .on_conflict_do_nothing()
            .returning(t.nonces.c.nonce)
        )
        return self.conn.execute(stmt).first() is not None

    def prune(self, before_ms: int) -> int:
        """Forget nonces seen before ``before_ms`` (their timestamps are stale by now)."""
        return self.conn.execute(t.nonces.delete().where(t.nonces.c.seen_ms < before_ms)).rowcount
