"""Users and their API keys: listing, roles, revoking."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from swarmgen.store import schema as t
from swarmgen.store.records import UserRecord


@dataclass(frozen=True)
class KeyRecord:
    """An API key as stored: its id and display prefix, never the key itself."""

    id: str
    user_id: str
    prefix: str
    created_ms: int
    revoked_ms: int | None


class UserStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def users(self) -> list[UserRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.users).order_by(t.users.c.name)).all()
        return [UserRecord(**row._mapping) for row in rows]

    def set_role(self, user_id: str, role: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.users).where(t.users.c.id == user_id).values(role=role))

    def keys(self, user_id: str) -> list[KeyRecord]:
        c = t.api_keys.c
        query = select(c.id, c.user_id, c.prefix, c.created_ms, c.revoked_ms).where(
            c.user_id == user_id
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(c.created_ms, c.id)).all()
        return [KeyRecord(**row._mapping) for row in rows]

    def revoke(self, user_id: str, now: int, key_id: str | None = None) -> int:
        """Revoke one key of ``user_id`` (or all of them); returns how many were live."""
        c = t.api_keys.c
        where = [c.user_id == user_id, c.revoked_ms.is_(None)]
        if key_id is not None:
            where.append(c.id == key_id)
        with self.engine.begin() as conn:
            return conn.execute(update(t.api_keys).where(*where).values(revoked_ms=now)).rowcount
