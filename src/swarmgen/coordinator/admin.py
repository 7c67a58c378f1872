"""Administrative actions run against the store directly (from the CLI or the demo)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from swarmgen.clock import Clock, SystemClock
from swarmgen.coordinator.auth import NewKey, new_api_key
from swarmgen.coordinator.credits import CreditService
from swarmgen.coordinator.epochs import EpochService
from swarmgen.coordinator.settings import CoordinatorSettings, CreditSettings, EpochSettings
from swarmgen.core import credits
from swarmgen.errors import FieldProblem, InvalidRequest, NotFound
from swarmgen.keyfile import load_or_create
from swarmgen.registry import load_registry
from swarmgen.store import SqlStore, make_engine, migrate
from swarmgen.store.ledger import LedgerStore
from swarmgen.store.records import UserRecord
from swarmgen.store.users import KeyRecord, UserStore

ROLES = ("admin", "user", "anonymous")


def open_store(settings: CoordinatorSettings) -> SqlStore:
    """The coordinator's store, migrated to the current schema."""
    settings.data.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url())
    migrate(engine)
    return SqlStore(engine)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidRequest(FieldProblem("role", f"must be one of {', '.join(ROLES)}", ROLES))


def ensure_user(
    store: SqlStore, clock: Clock, name: str, role: str = "user", welcome: int = 0
) -> UserRecord:
    """User ``name``, created with ``role`` (and ``welcome`` micro-credits) when missing."""
    _check_role(role)
    user = store.user_by_name(name)
    if user is None:
        user = store.create_user(
            UserRecord(id=uuid.uuid4().hex, name=name, role=role, created_ms=clock.now_ms())
        )
        if welcome > 0:
            with LedgerStore(store.engine).book(clock.now_ms()) as book:
                book.post([credits.grant(user.id, welcome, "welcome")])
    return user


def create_key(
    store: SqlStore, clock: Clock, name: str, role: str = "user", welcome: int = 0
) -> NewKey:
    """A new API key for user ``name`` (created if missing); the key is returned once."""
    user = ensure_user(store, clock, name, role, welcome)
    key = new_api_key()
    store.add_api_key(key.id, user.id, key.key_hash, key.prefix, clock.now_ms())
    return key


@dataclass
class Admin:
    """What an operator does on the coordinator's database: users, keys and credits."""

    settings: CoordinatorSettings
    store: SqlStore
    clock: Clock

    @classmethod
    def open(cls, settings: CoordinatorSettings) -> Admin:
        return cls(settings, open_store(settings), SystemClock())

    @property
    def users(self) -> UserStore:
        return UserStore(self.store.engine)

    @property
    def credits(self) -> CreditService:
        ledger = LedgerStore(self.store.engine)
        registry = load_registry(self.settings.registry)
        settings = CreditSettings.of(self.settings)
        return CreditService(settings, self.store, ledger, registry, self.clock)

    @property
    def epochs(self) -> EpochService:
        ledger = LedgerStore(self.store.engine)
        registry = load_registry(self.settings.registry)
        keys = load_or_create(self.settings.key_path)
        settings = EpochSettings.of(self.settings)
        return EpochService(settings, self.store, ledger, registry, self.clock, keys)

    def user(self, name: str) -> UserRecord:
        user = self.store.user_by_name(name)
        if user is None:
            raise NotFound(f"no user {name}", user=name)
        return user

    def create_user(self, name: str, role: str = "user") -> UserRecord:
        """A new user with the configured welcome credits; refuses an existing name."""
        if self.store.user_by_name(name) is not None:
            raise InvalidRequest(FieldProblem("name", f"user {name} already exists"))
        return ensure_user(self.store, self.clock, name, role, self.settings.welcome_credits)

    def set_role(self, name: str, role: str) -> UserRecord:
        _check_role(role)
        user = self.user(name)
        self.users.set_role(user.id, role)
        return self.user(name)

    def create_key(self, name: str, role: str = "user") -> NewKey:
        return create_key(self.store, self.clock, name, role, self.settings.welcome_credits)

    def rotate_key(self, name: str) -> NewKey:
        """Revoke every key of ``name`` and make a new one."""
        user = self.user(name)
        self.users.revoke(user.id, self.clock.now_ms())
        return create_key(self.store, self.clock, name, user.role)

    def revoke_key(self, name: str, key_id: str) -> None:
        user = self.user(name)
        if not self.users.revoke(user.id, self.clock.now_ms(), key_id):
            raise NotFound(f"{name} has no live key {key_id}", key_id=key_id)

    def keys(self, name: str) -> list[KeyRecord]:
        return self.users.keys(self.user(name).id)
