"""The store on SQLAlchemy Core: one unit of work handing out typed repositories.

``with store.transaction() as tx:`` opens one database transaction (``BEGIN
IMMEDIATE`` on SQLite) and hands out a repository per concern (``tx.jobs``,
``tx.dispatch``, ``tx.seats``, ``tx.workers``, ``tx.users``, ``tx.nonces``,
``tx.idempotency``, ``tx.validations``, ``tx.verdicts``, ``tx.ledger``, ``tx.outbox``,
``tx.network``), all on that transaction's connection. It commits when the block ends
and rolls back when it raises. ``transaction(now_ms, ledger=True)`` also takes the
ledger lock and adds ``tx.book``, the ledger's write side, so money and rows change
together; ``transaction(now_ms, postings=True)`` adds only ``tx.postings``, which moves
job money under per-account row locks without holding the ledger alone on PostgreSQL
(:mod:`swarmgen.store.journal`).
``transaction(read_only=True)`` only reads: on SQLite it neither queues for this
process's writer nor takes the database's write lock, and sees the last commit. A write
transaction opened while a signed request's nonce is pending records it first
(:mod:`swarmgen.store.pending`). Repositories
are made on first use: a dispatch transaction costs the same round trips as a bare
``engine.begin()``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from functools import cached_property

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from swarmgen.errors import DatabaseBusy
from swarmgen.store import pending
from swarmgen.store.checkpoint import Checkpointer
from swarmgen.store.dispatch import DispatchRepository
from swarmgen.store.engine import READ_ONLY
from swarmgen.store.idempotency import IdempotencyRepository
from swarmgen.store.jobs import JobRepository
from swarmgen.store.journal import Journal
from swarmgen.store.ledger import Book, LedgerRepository, chain_journal
from swarmgen.store.network import NetworkRepository
from swarmgen.store.nonces import NonceRepository
from swarmgen.store.outbox import OutboxRepository
from swarmgen.store.prepared import Prepared
from swarmgen.store.records import UserRecord
from swarmgen.store.seats import SeatRepository
from swarmgen.store.serial import WriterLock
from swarmgen.store.users import BY_KEY_HASH, UserRepository
from swarmgen.store.validations import ValidationRepository
from swarmgen.store.verdicts import VerdictRepository
from swarmgen.store.workers import WorkerRepository

log = logging.getLogger(__name__)

RETRYABLE = frozenset({"40P01", "40001"})
"""PostgreSQL's SQLSTATEs for a transaction it broke off (a deadlock, a serialization
failure): nothing was changed, so the caller may try again (:class:`DatabaseBusy`)."""


class LedgerNotLocked(RuntimeError):
    """``tx.book`` was used in a transaction opened without ``ledger=True`` (or
    ``tx.postings`` without ``ledger`` or ``postings``)."""


def topic_lock(topic: str) -> int:
    """The PostgreSQL advisory lock of ``topic``: a signed 64-bit number from its name."""
    return int.from_bytes(hashlib.sha256(topic.encode()).digest()[:8], "big", signed=True)


class SqlTransaction:
    """One open transaction and its repositories (see the module docstring)."""

    def __init__(self, conn: Connection, book: Book | None, postings: Book | Journal | None):
        self.conn = conn
        self._book = book
        self._postings = postings

    @property
    def book(self) -> Book:
        """The ledger's write side; only in a transaction opened with ``ledger=True``."""
        if self._book is None:
            raise LedgerNotLocked("open the transaction with ledger=True to post entries")
        return self._book

    @property
    def postings(self) -> Book | Journal:
        """Job money; in a transaction opened with ``postings=True`` or ``ledger=True``."""
        if self._postings is None:
            raise LedgerNotLocked("open the transaction with postings=True to move money")
        return self._postings

    @property
    def now_ms(self) -> int:
        """The time the ledger transaction was opened at (entries and rows carry it)."""
        return self.postings.now_ms

    def serialize(self, topic: str) -> None:
        """Hold ``topic``'s lock to the end (PostgreSQL: a transaction advisory lock;
        SQLite runs one writer at a time already)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": topic_lock(topic)})

    @cached_property
    def jobs(self) -> JobRepository:
        return JobRepository(self.conn)

    @cached_property
    def dispatch(self) -> DispatchRepository:
        return DispatchRepository(self.conn)

    @cached_property
    def seats(self) -> SeatRepository:
        return SeatRepository(self.conn)

    @cached_property
    def workers(self) -> WorkerRepository:
        return WorkerRepository(self.conn)

    @cached_property
    def users(self) -> UserRepository:
        return UserRepository(self.conn)

    @cached_property
    def nonces(self) -> NonceRepository:
        return NonceRepository(self.conn)

    @cached_property
    def idempotency(self) -> IdempotencyRepository:
        return IdempotencyRepository(self.conn)

    @cached_property
    def validations(self) -> ValidationRepository:
        return ValidationRepository(self.conn)

    @cached_property
    def verdicts(self) -> VerdictRepository:
        return VerdictRepository(self.conn)

    @cached_property
    def ledger(self) -> LedgerRepository:
        return LedgerRepository(self.conn)

    @cached_property
    def outbox(self) -> OutboxRepository:
        return OutboxRepository(self.conn)

    @cached_property
    def network(self) -> NetworkRepository:
        return NetworkRepository(self.conn)


class SqlStore:
    """The store port (:class:`swarmgen.store.port.Store`) on a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        sqlite = engine.dialect.name == "sqlite"
        self._writer = WriterLock() if sqlite else None
        """SQLite: this process's transactions queue here rather than in SQLite's busy
        handler (:mod:`swarmgen.store.serial`)."""
        in_memory = engine.url.database in (None, "", ":memory:")
        self.checkpoints = Checkpointer(engine, self._writer) if sqlite and not in_memory else None
        """A SQLite file: its WAL is checkpointed after writes, in a thread of its own
        (:mod:`swarmgen.store.checkpoint`)."""
        self._key_owner = None if in_memory else Prepared(engine, BY_KEY_HASH)
        """The key lookup on a pooled driver connection; an in-memory database has one
        connection, shared with whatever transaction is open, so it reads in one of its
        own there (:mod:`swarmgen.store.prepared`)."""

    @contextlib.contextmanager
    def transaction(
        self,
        now_ms: int | None = None,
        *,
        ledger: bool = False,
        postings: bool = False,
        read_only: bool = False,
    ) -> Iterator[SqlTransaction]:
        """One unit of work; with ``ledger``, serialised with every other ledger write;
        with ``postings``, only with those that move the same accounts (PostgreSQL);
        ``read_only``: it writes nothing (see the module docstring)."""
        if (ledger or postings) and now_ms is None:
            raise ValueError("a ledger transaction needs now_ms for its entries")
        if (ledger or postings) and read_only:
            raise ValueError("a ledger transaction writes")
        try:
            if read_only:
                with self.engine.connect() as conn:
                    conn.execution_options(**{READ_ONLY: True})
                    with conn.begin():
                        yield SqlTransaction(conn, None, None)
                return
            with self._writer or contextlib.nullcontext(), self.engine.begin() as conn:
                nonce = pending.claim(NonceRepository(conn))
                if now_ms is None or not (ledger or postings):
                    yield SqlTransaction(conn, None, None)
                elif postings and not ledger and conn.dialect.name == "postgresql":
                    yield SqlTransaction(conn, None, Journal.open(conn, now_ms))
                else:
                    book = Book.open(conn, now_ms)
                    yield SqlTransaction(conn, book if ledger else None, book)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) in RETRYABLE:
                # the cause (process ids, rows, relations) goes to the log, not the client
                log.warning("the database broke a transaction off: %s", exc.orig)
                raise DatabaseBusy("the database broke this request off; try again") from exc
            raise
        if nonce is not None:
            nonce.recorded = True
        if self.checkpoints is not None:
            self.checkpoints.wrote()

    def key_owner(self, key_hash: str) -> UserRecord | None:
        """On a pooled driver connection, outside any transaction (:mod:`.prepared`)."""
        if self._key_owner is None:
            with self.transaction(read_only=True) as tx:
                return tx.users.by_key_hash(key_hash)
        row = self._key_owner.first(key_hash=key_hash)
        return None if row is None else UserRecord(**row)

    def chain_journal(self, touching: str | None = None) -> int:
        """Chain the journal now (PostgreSQL; elsewhere postings go to the chain)."""
        if self.engine.dialect.name != "postgresql":
            return 0
        with self.engine.begin() as conn:
            return chain_journal(conn, touching)

    @property
    def url(self) -> str:
        """The database URL, password included (for child processes and tools)."""
        return self.engine.url.render_as_string(hide_password=False)

    def dispose(self) -> None:
        """Checkpoint what is left (SQLite) and close the engine's pooled connections."""
        if self.checkpoints is not None:
            self.checkpoints.close()
        self.engine.dispose()
