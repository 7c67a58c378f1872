"""Workers: registration, last-seen, and who owns which worker key."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select, update

from swarmgen.store import schema as t
from swarmgen.store.base import Repository
from swarmgen.store.records import WorkerRecord

_GET = select(t.workers).where(t.workers.c.id == bindparam("worker_id"))
_TOUCH = (
    update(t.workers)
    .where(t.workers.c.id == bindparam("worker_id"))
    .values(last_seen_ms=bindparam("now"))
)
"""Every pop reads and marks its worker: these statements are built once."""


class WorkerRepository(Repository):
    def register(self, worker: WorkerRecord) -> None:
        """Insert the worker, or update its name, owner and capabilities."""
        stmt = self.dialect_insert(t.workers).values(**worker.__dict__)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.workers.c.id],
            set_={
                "name": stmt.excluded.name,
                "owner_id": stmt.excluded.owner_id,
                "capabilities": stmt.excluded.capabilities,
                "last_seen_ms": stmt.excluded.last_seen_ms,
            },
        )
        self.conn.execute(stmt)

    def get(self, worker_id: str) -> WorkerRecord | None:
        row = self.conn.execute(_GET, {"worker_id": worker_id}).first()
        return WorkerRecord(**row._mapping) if row else None

    def touch(self, worker_id: str, now: int) -> None:
        self.conn.execute(_TOUCH, {"worker_id": worker_id, "now": now})

    def owners(self, worker_ids: Iterable[str]) -> dict[str, str]:
        """The owner of each of ``worker_ids`` that has one (unowned workers are left out)."""
        ids = sorted(set(worker_ids))
        if not ids:
            return {}
        c = t.workers.c
        rows = self.conn.execute(select(c.id, c.owner_id).where(c.id.in_(ids))).all()
        return {row.id: row.owner_id for row in rows if row.owner_id}

    def seen_since(self, since_ms: int) -> list[WorkerRecord]:
        """Workers seen (registered, popped or heartbeat) at or after ``since_ms``: the
        candidates of a validation seat's draw."""
        c = t.workers.c
        rows = self.conn.execute(select(t.workers).where(c.last_seen_ms >= since_ms)).all()
        return [WorkerRecord(**row._mapping) for row in rows]

    def keys_of(self, owner_ids: Iterable[str]) -> dict[str, list[str]]:
        """Every worker key of each of ``owner_ids`` that has one, sorted: what a verdict
        on an owner reaches."""
        ids = sorted(set(owner_ids))
        if not ids:
            return {}
        c = t.workers.c
        rows = self.conn.execute(
            select(c.owner_id, c.id).where(c.owner_id.in_(ids)).order_by(c.owner_id, c.id)
        ).all()
        out: dict[str, list[str]] = {}
        for row in rows:
            out.setdefault(row.owner_id, []).append(row.id)
        return out
