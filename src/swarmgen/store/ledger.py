"""The ledger in the database: hash-chained entries, the balance projection, epochs, verdicts.

Every write goes through :meth:`LedgerStore.book`, one transaction that first takes the
ledger lock (``pg_advisory_xact_lock`` on PostgreSQL; on SQLite ``BEGIN IMMEDIATE``
already serialises writers), then reads the chain's head and the open epoch. Entries
are made and checked by :mod:`swarmgen.core.ledger`, exactly as the in-memory ledger
does, so the chain never forks and no balance in circulation goes negative. Callers
put their own row changes (a job insert, a state flip) in the same transaction through
:attr:`Book.conn`, so money and job state move together or not at all.

The ``balances`` table is a projection of the entries kept in step inside the same
transaction; :meth:`LedgerStore.projection_matches` checks it against a full fold.
"""

from __future__ import annotations

import contextlib
from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from swarmgen.core.ledger import (
    GENESIS_HASH,
    Entry,
    EntryKind,
    Posting,
    Totals,
    apply,
    entry_body,
    make_entry,
    project,
    totals,
)
from swarmgen.core.receipts import Receipt
from swarmgen.core.seal import EpochSeal
from swarmgen.store import schema as t

LOCK_ID = 0x5357_4C47
"""PostgreSQL advisory lock that serialises every ledger write across coordinators."""


def entry_row(entry: Entry, now_ms: int) -> dict[str, Any]:
    body = entry_body(entry.seq, entry.epoch, entry.posting, entry.prev_hash)
    return {**body, "hash": entry.hash, "created_ms": now_ms}


def entry_from_row(row: Any) -> Entry:
    receipt = Receipt.from_dict(row.receipt) if row.receipt is not None else None
    posting = Posting(
        EntryKind(row.kind), row.debit, row.credit, row.amount, row.job_id, row.memo, receipt
    )
    return Entry(row.seq, row.epoch, posting, row.prev_hash, row.hash)


@dataclass(frozen=True)
class OpenEpoch:
    """The epoch that receives new entries, and when it opened."""

    epoch: int
    opened_ms: int


@dataclass
class Book:
    """One ledger transaction: read balances, post entries, change rows alongside."""

    conn: Connection
    epoch: OpenEpoch
    next_seq: int
    head: str
    now_ms: int
    _balances: dict[str, int] = field(default_factory=dict)
    _touched: set[str] = field(default_factory=set)

    def balances(self, *accounts: str) -> dict[str, int]:
        """Current balances of ``accounts`` (0 for accounts never used)."""
        missing = [a for a in accounts if a not in self._balances]
        if missing:
            rows = self.conn.execute(
                select(t.balances.c.account, t.balances.c.amount).where(
                    t.balances.c.account.in_(missing)
                )
            ).all()
            found = {row.account: int(row.amount) for row in rows}
            for account in missing:
                self._balances[account] = found.get(account, 0)
        return {a: self._balances[a] for a in accounts}

    def balance(self, account: str) -> int:
        return self.balances(account)[account]

    def all_balances(self) -> dict[str, int]:
        """Every non-zero balance, including what this transaction has posted."""
        rows = self.conn.execute(select(t.balances).where(t.balances.c.amount != 0)).all()
        out = {row.account: int(row.amount) for row in rows}
        out.update(self._balances)
        return {account: amount for account, amount in out.items() if amount}

    def post(self, postings: Iterable[Posting]) -> list[Entry]:
        """Append ``postings`` in order; all or none (the caller's transaction rolls back)."""
        postings = list(postings)
        for posting in postings:
            self.balances(posting.debit, posting.credit)
        scratch: ChainMap[str, int] = ChainMap({}, self._balances)
        made: list[Entry] = []
        seq, head = self.next_seq, self.head
        for posting in postings:
            entry = make_entry(seq, self.epoch.epoch, posting, head)
            apply(scratch, posting)
            made.append(entry)
            seq, head = seq + 1, entry.hash
        if not made:
            return made
        self.conn.execute(t.ledger_entries.insert(), [entry_row(e, self.now_ms) for e in made])
        self._balances.update(scratch.maps[0])
        self._touched.update(scratch.maps[0])
        self.next_seq, self.head = seq, head
        self._flush_balances(scratch.maps[0])
        return made

    def _flush_balances(self, changed: Mapping[str, int]) -> None:
        dialect = self.conn.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(t.balances).values(
            [{"account": a, "amount": amount} for a, amount in sorted(changed.items())]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.balances.c.account], set_={"amount": stmt.excluded.amount}
        )
        self.conn.execute(stmt)

    def totals(self) -> Totals:
        return totals(self.all_balances())

    def epoch_entries(self, epoch: int) -> list[Entry]:
        return _epoch_entries(self.conn, epoch)

    def kind_entries(self, kind: EntryKind, credit: str) -> list[Entry]:
        """Entries of ``kind`` paid into ``credit``, in chain order."""
        return _kind_entries(self.conn, kind, credit)

    def seal(self, seal: EpochSeal) -> None:
        """Store ``seal`` on its epoch and open the next one now."""
        self.conn.execute(
            update(t.epochs)
            .where(t.epochs.c.epoch == seal.epoch, t.epochs.c.closed_ms.is_(None))
            .values(closed_ms=self.now_ms, seal=seal.to_dict())
        )
        self.conn.execute(t.epochs.insert().values(epoch=seal.epoch + 1, opened_ms=self.now_ms))
        self.epoch = OpenEpoch(seal.epoch + 1, self.now_ms)


class LedgerStore:
    """Ledger entries, balances, epochs and verdicts in the coordinator's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextlib.contextmanager
    def book(self, now_ms: int) -> Iterator[Book]:
        """A serialised ledger transaction; commits when the block ends without error."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})
            epoch = _open_epoch(conn, now_ms)
            last = conn.execute(
                select(t.ledger_entries.c.seq, t.ledger_entries.c.hash)
                .order_by(t.ledger_entries.c.seq.desc())
                .limit(1)
            ).first()
            next_seq, head = (last.seq + 1, last.hash) if last else (0, GENESIS_HASH)
            yield Book(conn, epoch, next_seq, head, now_ms)

    # reading ----------------------------------------------------------------------

    def balance(self, account: str) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(t.balances.c.amount).where(t.balances.c.account == account)
            ).scalar()
        return int(value or 0)

    def balances(self) -> dict[str, int]:
        """Every non-zero balance."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.balances).where(t.balances.c.amount != 0)).all()
        return {row.account: int(row.amount) for row in rows}

    def entries(self, after_seq: int = -1, limit: int | None = None) -> Iterator[Entry]:
        """Entries in chain order, read in pages so an export never holds the whole chain."""
        page = 1000 if limit is None else min(limit, 1000)
        left = limit
        while left is None or left > 0:
            query = (
                select(t.ledger_entries)
                .where(t.ledger_entries.c.seq > after_seq)
                .order_by(t.ledger_entries.c.seq)
                .limit(page if left is None else min(page, left))
            )
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            for row in rows:
                yield entry_from_row(row)
            after_seq = rows[-1].seq
            left = None if left is None else left - len(rows)

    def account_entries(
        self, account: str, limit: int, before_seq: int | None = None
    ) -> list[Entry]:
        """Entries that touch ``account``, newest first."""
        c = t.ledger_entries.c
        query = select(t.ledger_entries).where(or_(c.debit == account, c.credit == account))
        if before_seq is not None:
            query = query.where(c.seq < before_seq)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(c.seq.desc()).limit(limit)).all()
        return [entry_from_row(row) for row in rows]

    def job_entries(self, job_id: str) -> list[Entry]:
        c = t.ledger_entries.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.ledger_entries).where(c.job_id == job_id).order_by(c.seq)
            ).all()
        return [entry_from_row(row) for row in rows]

    def epoch_entries(self, epoch: int) -> list[Entry]:
        with self.engine.connect() as conn:
            return _epoch_entries(conn, epoch)

    def kind_entries(self, kind: EntryKind, credit: str) -> list[Entry]:
        """Entries of ``kind`` paid into ``credit``, in chain order."""
        with self.engine.connect() as conn:
            return _kind_entries(conn, kind, credit)

    def seals(self) -> list[EpochSeal]:
        """Every sealed epoch, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.epochs.c.seal)
                .where(t.epochs.c.seal.is_not(None))
                .order_by(t.epochs.c.epoch)
            ).all()
        return [EpochSeal.from_dict(row.seal) for row in rows]

    def open_epoch(self) -> OpenEpoch | None:
        """The open epoch, or ``None`` before the ledger's first transaction."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.epochs.c.epoch, t.epochs.c.opened_ms).where(t.epochs.c.closed_ms.is_(None))
            ).first()
        return OpenEpoch(row.epoch, row.opened_ms) if row else None

    def projection_matches(self) -> bool:
        """True when the stored balances equal the fold of every entry."""
        folded = {a: v for a, v in project(e.posting for e in self.entries()).items() if v}
        return folded == self.balances()

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(t.ledger_entries)).scalar_one()
            )

    # verdicts ---------------------------------------------------------------------

    def record_verdict(
        self, epoch: int, worker_id: str, invalid: bool, evidence: Mapping[str, Any], now_ms: int
    ) -> None:
        """Store (or replace) the verdict on ``worker_id`` for ``epoch``."""
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        values = dict(
            epoch=epoch,
            worker_id=worker_id,
            invalid=invalid,
            evidence=dict(evidence),
            recorded_ms=now_ms,
        )
        stmt = insert(t.verdicts).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.verdicts.c.epoch, t.verdicts.c.worker_id],
            set_={k: stmt.excluded[k] for k in ("invalid", "evidence", "recorded_ms")},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    @staticmethod
    def invalid_workers(conn: Connection, epoch: int) -> list[str]:
        c = t.verdicts.c
        rows = conn.execute(
            select(c.worker_id).where(c.epoch == epoch, c.invalid.is_(True)).order_by(c.worker_id)
        ).all()
        return [row.worker_id for row in rows]


def _open_epoch(conn: Connection, now_ms: int) -> OpenEpoch:
    row = conn.execute(
        select(t.epochs.c.epoch, t.epochs.c.opened_ms).where(t.epochs.c.closed_ms.is_(None))
    ).first()
    if row is not None:
        return OpenEpoch(row.epoch, row.opened_ms)
    conn.execute(t.epochs.insert().values(epoch=0, opened_ms=now_ms))
    return OpenEpoch(0, now_ms)


def _epoch_entries(conn: Connection, epoch: int) -> list[Entry]:
    c = t.ledger_entries.c
    rows = conn.execute(select(t.ledger_entries).where(c.epoch == epoch).order_by(c.seq)).all()
    return [entry_from_row(row) for row in rows]


def _kind_entries(conn: Connection, kind: EntryKind, credit: str) -> list[Entry]:
    c = t.ledger_entries.c
    rows = conn.execute(
        select(t.ledger_entries).where(c.kind == kind.value, c.credit == credit).order_by(c.seq)
    ).all()
    return [entry_from_row(row) for row in rows]
