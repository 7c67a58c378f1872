"""Administrative actions run against the store directly (from the CLI or the demo)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from swarmgen.chain.settings import ChainSettings
from swarmgen.clock import Clock, SystemClock
from swarmgen.coordinator.auth import NewKey, new_api_key
from swarmgen.coordinator.credits import CreditService
from swarmgen.coordinator.epochs import EpochService
from swarmgen.coordinator.settings import CoordinatorSettings, CreditSettings, EpochSettings
from swarmgen.core import credits
from swarmgen.errors import FieldProblem, InvalidRequest, NotFound
from swarmgen.keyfile import load_or_create
from swarmgen.registry import load_registry
from swarmgen.store import SqlStore
from swarmgen.store import open_store as open_database
from swarmgen.store.port import Store
from swarmgen.store.records import KeyRecord, UserRecord

ROLES = ("admin", "user", "anonymous")


def open_store(settings: CoordinatorSettings) -> SqlStore:
    """The coordinator's store, migrated to the current schema."""
    settings.data.mkdir(parents=True, exist_ok=True)
    return open_database(settings.db_url())


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidRequest(FieldProblem("role", f"must be one of {', '.join(ROLES)}", ROLES))


def ensure_user(
    store: Store, clock: Clock, name: str, role: str = "user", welcome: int = 0
) -> UserRecord:
    """User ``name``, created with ``role`` (and ``welcome`` micro-credits) when missing."""
    _check_role(role)
    with store.transaction() as tx:
        user = tx.users.by_name(name)
        if user is not None:
            return user
        user = tx.users.create(
            UserRecord(id=uuid.uuid4().hex, name=name, role=role, created_ms=clock.now_ms())
        )
    if welcome > 0:
        with store.transaction(clock.now_ms(), ledger=True) as tx:
            tx.book.post([credits.grant(user.id, welcome, "welcome")])
    return user


def create_key(
    store: Store,
    clock: Clock,
    name: str,
    role: str = "user",
    welcome: int = 0,
    *,
    horde: bool = False,
) -> NewKey:
    """A new API key for user ``name`` (created if missing); the key is returned once.

    With ``horde`` the key has the 22 characters AI Horde's clients require."""
    user = ensure_user(store, clock, name, role, welcome)
    key = new_api_key(horde=horde)
    with store.transaction() as tx:
        tx.users.add_key(key.id, user.id, key.key_hash, key.prefix, clock.now_ms())
    return key


@dataclass(frozen=True)
class CheckProgress:
    """Where verification stands: what an operator waits on before closing an epoch."""

    pending: int
    """Checks not settled yet."""
    seats_in_play: int
    """Validation seats held, or drawn for a worker that has still to take them."""


@dataclass
class Admin:
    """What an operator does on the coordinator's database: users, keys and credits."""

    settings: CoordinatorSettings
    store: Store
    clock: Clock
    chain: ChainSettings | None = None
    """The chain the coordinator posts to, if any: an epoch this closes is owed to it
    as a periodic close is (its seal and slashes go through the outbox)."""

    @classmethod
    def open(cls, settings: CoordinatorSettings, chain: ChainSettings | None = None) -> Admin:
        """``chain`` defaults to the ``SWARMGEN_CHAIN_*`` environment, as the
        coordinator's own (:func:`swarmgen.coordinator.bootstrap.build_services`)."""
        chain = chain if chain is not None else ChainSettings()
        return cls(settings, open_store(settings), SystemClock(), chain)

    @property
    def credits(self) -> CreditService:
        registry = load_registry(self.settings.registry)
        settings = CreditSettings.of(self.settings)
        return CreditService(settings, self.store, registry, self.clock)

    @property
    def epochs(self) -> EpochService:
        registry = load_registry(self.settings.registry)
        keys = load_or_create(self.settings.key_path)
        settings = EpochSettings.of(self.settings)
        on_chain = self.chain is not None and self.chain.enabled
        return EpochService(settings, self.store, registry, self.clock, keys, chain_outbox=on_chain)

    def check_progress(self) -> CheckProgress:
        """Pending checks and the seats still in play on them. Once no seat is in play,
        the pending checks can move only when workers appear (or settle at the close)."""
        with self.store.transaction() as tx:
            return CheckProgress(
                len(tx.validations.pending_checks()), tx.validations.seats_in_play()
            )

    def user(self, name: str) -> UserRecord:
        with self.store.transaction() as tx:
            user = tx.users.by_name(name)
        if user is None:
            raise NotFound(f"no user {name}", user=name)
        return user

    def all_users(self) -> list[UserRecord]:
        """Every user, by name."""
        with self.store.transaction() as tx:
            return tx.users.all()

    def create_user(self, name: str, role: str = "user") -> UserRecord:
        """A new user with the configured welcome credits; refuses an existing name."""
        with self.store.transaction() as tx:
            taken = tx.users.by_name(name) is not None
        if taken:
            raise InvalidRequest(FieldProblem("name", f"user {name} already exists"))
        return ensure_user(self.store, self.clock, name, role, self.settings.welcome_credits)

    def set_role(self, name: str, role: str) -> UserRecord:
        _check_role(role)
        user = self.user(name)
        with self.store.transaction() as tx:
            tx.users.set_role(user.id, role)
        return self.user(name)

    def create_key(self, name: str, role: str = "user", *, horde: bool = False) -> NewKey:
        welcome = self.settings.welcome_credits
        return create_key(self.store, self.clock, name, role, welcome, horde=horde)

    def rotate_key(self, name: str) -> NewKey:
        """Revoke every key of ``name`` and make a new one."""
        user = self.user(name)
        with self.store.transaction() as tx:
            tx.users.revoke(user.id, self.clock.now_ms())
        return create_key(self.store, self.clock, name, user.role)

    def revoke_key(self, name: str, key_id: str) -> None:
        user = self.user(name)
        with self.store.transaction() as tx:
            revoked = tx.users.revoke(user.id, self.clock.now_ms(), key_id)
        if not revoked:
            raise NotFound(f"{name} has no live key {key_id}", key_id=key_id)

    def keys(self, name: str) -> list[KeyRecord]:
        user = self.user(name)
        with self.store.transaction() as tx:
            return tx.users.keys(user.id)
