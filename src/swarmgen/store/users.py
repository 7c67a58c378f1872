"""Users and their API keys: create, look up by name or key, roles, revoking."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update

from swarmgen.store import schema as t
from swarmgen.store.base import Repository
from swarmgen.store.records import KeyRecord, UserRecord

BY_KEY_HASH = (
    select(t.users)
    .join(t.api_keys, t.api_keys.c.user_id == t.users.c.id)
    .where(t.api_keys.c.key_hash == bindparam("key_hash"), t.api_keys.c.revoked_ms.is_(None))
)
"""The user of a live key, built once: every requester call reads it."""


class UserRepository(Repository):
    def create(self, user: UserRecord) -> UserRecord:
        self.conn.execute(t.users.insert().values(**user.__dict__))
        return user

    def create_if_missing(self, user: UserRecord) -> UserRecord:
        """``user``, or the user already stored under its name (two may race to make it)."""
        stmt = self.dialect_insert(t.users).values(**user.__dict__).on_conflict_do_nothing()
        self.conn.execute(stmt)
        found = self.by_name(user.name)
        assert found is not None
        return found

    def by_name(self, name: str) -> UserRecord | None:
        row = self.conn.execute(select(t.users).where(t.users.c.name == name)).first()
        return UserRecord(**row._mapping) if row else None

    def by_id(self, user_id: str) -> UserRecord | None:
        row = self.conn.execute(select(t.users).where(t.users.c.id == user_id)).first()
        return UserRecord(**row._mapping) if row else None

    def all(self) -> list[UserRecord]:
        rows = self.conn.execute(select(t.users).order_by(t.users.c.name)).all()
        return [UserRecord(**row._mapping) for row in rows]

    def set_role(self, user_id: str, role: str) -> None:
        self.conn.execute(update(t.users).where(t.users.c.id == user_id).values(role=role))

    # keys -------------------------------------------------------------------------

    def add_key(self, key_id: str, user_id: str, key_hash: str, prefix: str, now: int) -> None:
        self.conn.execute(
            t.api_keys.insert().values(
                id=key_id, user_id=user_id, key_hash=key_hash, prefix=prefix, created_ms=now
            )
        )

    def by_key_hash(self, key_hash: str) -> UserRecord | None:
        """The user of a live (unrevoked) key."""
        row = self.conn.execute(BY_KEY_HASH, {"key_hash": key_hash}).first()
        return UserRecord(**row._mapping) if row else None

    def keys(self, user_id: str) -> list[KeyRecord]:
        c = t.api_keys.c
        query = select(c.id, c.user_id, c.prefix, c.created_ms, c.revoked_ms).where(
            c.user_id == user_id
        )
        rows = self.conn.execute(query.order_by(c.created_ms, c.id)).all()
        return [KeyRecord(**row._mapping) for row in rows]

    def revoke(self, user_id: str, now: int, key_id: str | None = None) -> int:
        """Revoke one key of ``user_id`` (or all of them); returns how many were live."""
        c = t.api_keys.c
        where = [c.user_id == user_id, c.revoked_ms.is_(None)]
        if key_id is not None:
            where.append(c.id == key_id)
        return self.conn.execute(update(t.api_keys).where(*where).values(revoked_ms=now)).rowcount
