"""The chain outbox: rows the coordinator owes the chain, and what became of them.

A row is written in the same transaction as the change it reports (an epoch seal is
written with the seal), so the chain is told of every sealed epoch however the
coordinator stops; :class:`swarmgen.chain.outbox.ChainOutbox` drains it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from swarmgen.store import schema as t
from swarmgen.store.base import Repository
from swarmgen.store.records import OutboxRow


class OutboxRepository(Repository):
    def add(self, key: str, kind: str, payload: Mapping[str, Any], now: int) -> None:
        """Owe the chain ``payload`` under ``key``; a key already owed is left as it is."""
        insert = self.dialect_insert(t.chain_outbox).values(
            key=key, kind=kind, payload=dict(payload), created_ms=now, attempts=0
        )
        self.conn.execute(insert.on_conflict_do_nothing(index_elements=["key"]))

    def waiting(self, limit: int = 100) -> list[OutboxRow]:
        """Rows not yet posted, oldest first."""
        c = t.chain_outbox.c
        rows = self.conn.execute(
            select(t.chain_outbox)
            .where(c.posted_ms.is_(None))
            .order_by(c.created_ms, c.key)
            .limit(limit)
        ).all()
        return [OutboxRow(**row._mapping) for row in rows]

    def get(self, key: str) -> OutboxRow | None:
        row = self.conn.execute(select(t.chain_outbox).where(t.chain_outbox.c.key == key)).first()
        return OutboxRow(**row._mapping) if row else None

    def posted(self, key: str, tx: str, now: int) -> None:
        c = t.chain_outbox.c
        self.conn.execute(
            t.chain_outbox.update()
            .where(c.key == key)
            .values(posted_ms=now, tx=tx, attempts=c.attempts + 1, last_error=None)
        )

    def failed(self, key: str, error: str) -> None:
        c = t.chain_outbox.c
        self.conn.execute(
            t.chain_outbox.update()
            .where(c.key == key)
            .values(attempts=c.attempts + 1, last_error=error[:2000])
        )
