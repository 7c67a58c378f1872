"""Request nonces of signed worker requests: each may be used once per worker."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite

from swarmgen.store import schema as t
from swarmgen.store.base import Repository


@functools.cache
def _remember(dialect: str) -> Any:
    """The nonce's insert, skipped when already there, for ``dialect``: built once (every
    signed request makes one)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(t.nonces)
        .values(worker_id=bindparam("key"), nonce=bindparam("used"), seen_ms=bindparam("now"))
        .on_conflict_do_nothing()
        .returning(t.nonces.c.nonce)
    )


class NonceRepository(Repository):
    def remember(self, worker_id: str, nonce: str, now: int) -> bool:
        """Record a request nonce; False when this worker has used it before."""
        params = {"key": worker_id, "used": nonce, "now": now}
        return self.conn.execute(_remember(self.conn.dialect.name), params).first() is not None

    def prune(self, before_ms: int) -> int:
        """Forget nonces seen before ``before_ms`` (their timestamps are stale by now)."""
        return self.conn.execute(t.nonces.delete().where(t.nonces.c.seen_ms < before_ms)).rowcount
