"""Idempotency keys of submits: a retried request finds the jobs its first try queued.

A key is claimed in the transaction that queues the jobs and reserves their price, so
the key, the jobs and the money commit together or not at all. The primary key
``(user_id, key)`` makes a second claim of a live key lose: ``INSERT ... ON CONFLICT DO
NOTHING`` waits for a concurrent claimant to commit or roll back and then either
inserts or finds the winner's row, so two concurrent retries cannot both charge.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from swarmgen.store import schema as t
from swarmgen.store.base import Repository
from swarmgen.store.records import IdempotentRequest


def _record(row: Any) -> IdempotentRequest:
    return IdempotentRequest(
        user_id=row.user_id,
        key=row.key,
        fingerprint=row.fingerprint,
        job_ids=tuple(row.job_ids),
        created_ms=int(row.created_ms),
    )


class IdempotencyRepository(Repository):
    def get(self, user_id: str, key: str, since_ms: int) -> IdempotentRequest | None:
        """The request ``user_id`` made under ``key`` at or after ``since_ms``, if any."""
        c = t.idempotency_keys.c
        row = self.conn.execute(
            select(t.idempotency_keys).where(
                c.user_id == user_id, c.key == key, c.created_ms >= since_ms
            )
        ).first()
        return _record(row) if row is not None else None

    def claim(self, request: IdempotentRequest, since_ms: int) -> IdempotentRequest | None:
        """Record ``request`` under its key; the earlier request instead when the key is
        already taken at or after ``since_ms`` (a claim older than that is replaced)."""
        c = t.idempotency_keys.c
        self.conn.execute(
            t.idempotency_keys.delete().where(
                c.user_id == request.user_id, c.key == request.key, c.created_ms < since_ms
            )
        )
        inserted = self.conn.execute(
            self.dialect_insert(t.idempotency_keys)
            .values(
                user_id=request.user_id,
                key=request.key,
                fingerprint=request.fingerprint,
                job_ids=list(request.job_ids),
                created_ms=request.created_ms,
            )
            .on_conflict_do_nothing()
            .returning(c.key)
        ).first()
        if inserted is not None:
            return None
        return self.get(request.user_id, request.key, since_ms)

    def prune(self, before_ms: int) -> int:
        """Forget keys claimed before ``before_ms``: their window has closed."""
        c = t.idempotency_keys.c
        return self.conn.execute(
            t.idempotency_keys.delete().where(c.created_ms < before_ms)
        ).rowcount
