"""Administrative actions run against the store directly (from the CLI or the demo)."""

from __future__ import annotations

import uuid

from swarmgen.clock import Clock
from swarmgen.coordinator.auth import NewKey, new_api_key
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.store import SqlStore, make_engine, migrate
from swarmgen.store.records import UserRecord

ROLES = ("admin", "user", "anonymous")


def open_store(settings: CoordinatorSettings) -> SqlStore:
    """The coordinator's store, migrated to the current schema."""
    settings.data.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url())
    migrate(engine)
    return SqlStore(engine)


def ensure_user(store: SqlStore, clock: Clock, name: str, role: str = "user") -> UserRecord:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    user = store.user_by_name(name)
    if user is None:
        user = store.create_user(
            UserRecord(id=uuid.uuid4().hex, name=name, role=role, created_ms=clock.now_ms())
        )
    return user


def create_key(store: SqlStore, clock: Clock, name: str, role: str = "user") -> NewKey:
    """A new API key for user ``name`` (created if missing); the key is returned once."""
    user = ensure_user(store, clock, name, role)
    key = new_api_key()
    store.add_api_key(key.id, user.id, key.key_hash, key.prefix, clock.now_ms())
    return key
