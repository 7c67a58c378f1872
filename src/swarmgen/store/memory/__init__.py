"""The store port in memory: a fake for tests and benchmarks that need no database.

:class:`MemoryStore` keeps every table in dictionaries behind one lock, so
transactions run one at a time (as ``BEGIN IMMEDIATE`` makes them on SQLite); each
works on copies and swaps them in when it commits, so a failed transaction leaves
nothing behind. A read-only one copies the last commit's tables and takes no lock
(committed tables are never changed). It answers the same contract tests as the SQLAlchemy adapter
(``tests/integration/store``), and dispatch calls the core's eligibility rule directly.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from swarmgen.store import pending
from swarmgen.store.memory.accounts import (
    MemoryIdempotency,
    MemoryNonces,
    MemoryUsers,
    MemoryWorkers,
)
from swarmgen.store.memory.jobs import MemoryDispatch, MemoryJobs
from swarmgen.store.memory.ledger import MemoryBook, MemoryLedger
from swarmgen.store.memory.network import MemoryNetwork
from swarmgen.store.memory.outbox import MemoryOutbox
from swarmgen.store.memory.seats import MemorySeats
from swarmgen.store.memory.tables import Tables
from swarmgen.store.memory.verification import MemoryValidations, MemoryVerdicts
from swarmgen.store.port import Store
from swarmgen.store.records import UserRecord
from swarmgen.store.sql import LedgerNotLocked


class MemoryTransaction:
    """One transaction on a working copy of the tables."""

    def __init__(
        self, tables: Tables, book: MemoryBook | None, postings: MemoryBook | None = None
    ) -> None:
        self._book = book
        self._postings = postings or book
        self.jobs = MemoryJobs(tables)
        self.dispatch = MemoryDispatch(tables)
        self.seats = MemorySeats(tables)
        self.workers = MemoryWorkers(tables)
        self.users = MemoryUsers(tables)
        self.nonces = MemoryNonces(tables)
        self.idempotency = MemoryIdempotency(tables)
        self.validations = MemoryValidations(tables)
        self.verdicts = MemoryVerdicts(tables)
        self.ledger = MemoryLedger(tables)
        self.outbox = MemoryOutbox(tables)
        self.network = MemoryNetwork(tables)

    @property
    def book(self) -> MemoryBook:
        if self._book is None:
            raise LedgerNotLocked("open the transaction with ledger=True to post entries")
        return self._book

    @property
    def postings(self) -> MemoryBook:
        if self._postings is None:
            raise LedgerNotLocked("open the transaction with postings=True to move money")
        return self._postings

    @property
    def now_ms(self) -> int:
        return self.postings.now_ms

    def serialize(self, topic: str) -> None:
        """Nothing to take: the store's lock runs one transaction at a time."""


class MemoryStore:
    """The store port (:class:`swarmgen.store.port.Store`) in memory."""

    url = "memory://"

    def __init__(self) -> None:
        self._tables = Tables()
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def transaction(
        self,
        now_ms: int | None = None,
        *,
        ledger: bool = False,
        postings: bool = False,
        read_only: bool = False,
    ) -> Iterator[MemoryTransaction]:
        if (ledger or postings) and now_ms is None:
            raise ValueError("a ledger transaction needs now_ms for its entries")
        if (ledger or postings) and read_only:
            raise ValueError("a ledger transaction writes")
        if read_only:  # the last commit's tables, never changed once committed
            yield MemoryTransaction(self._tables.working_copy(), None)
            return
        with self._lock:
            working = self._tables.working_copy()
            nonce = pending.claim(MemoryNonces(working))
            # one transaction at a time: job money needs no lock of its own
            money = (ledger or postings) and now_ms is not None
            book = MemoryBook(working, now_ms) if money and now_ms is not None else None
            yield MemoryTransaction(working, book if ledger else None, book if postings else None)
            working.number_changes(self._tables.jobs)
            self._tables = working
        if nonce is not None:
            nonce.recorded = True

    def key_owner(self, key_hash: str) -> UserRecord | None:
        with self.transaction(read_only=True) as tx:
            return tx.users.by_key_hash(key_hash)

    def chain_journal(self, touching: str | None = None) -> int:
        """Nothing journaled: postings go to the chain at once."""
        return 0

    def dispose(self) -> None:
        """Nothing to close."""


def memory_store() -> Store:
    """A fresh, empty store in memory, typed as the port it stands in for."""
    return MemoryStore()


__all__ = ["MemoryStore", "MemoryTransaction", "memory_store"]
