"""The ledger in the database: hash-chained entries, the balance projection, epochs.

Reads go through :class:`LedgerRepository`, available in every transaction. Writes go
through a :class:`Book`, which only a transaction opened with ``ledger=True`` has: that
transaction first takes the ledger lock (``pg_advisory_xact_lock`` on PostgreSQL; on
SQLite ``BEGIN IMMEDIATE`` already serialises writers), then reads the chain's head and
the open epoch, and on PostgreSQL appends what job money was journaled meanwhile
(:mod:`swarmgen.store.journal`) to the chain. Entries are made and checked by
:mod:`swarmgen.core.ledger`, exactly as the in-memory ledger does, so the chain never
forks and no balance in circulation goes negative. Row changes made through the other
repositories of the same transaction commit with the entries, so money and job state
move together or not at all.

The ``balances`` table is a projection of the entries kept in step inside the same
transaction; :func:`swarmgen.coordinator.auditing.verify_live` checks it against a fold.
"""

from __future__ import annotations

import functools
from collections import ChainMap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select, text, update

from swarmgen.core.ledger import (
    GENESIS_HASH,
    Entry,
    EntryKind,
    Posting,
    Totals,
    apply,
    entry_body,
    make_entry,
    totals,
)
from swarmgen.core.seal import EpochSeal
from swarmgen.store import schema as t
from swarmgen.store.base import Repository, dialect_insert
from swarmgen.store.journal import LOCK_ID, deferred, posting_from_row
from swarmgen.store.records import OpenEpoch

PAGE = 1000
"""Entries read per query when the whole chain is walked."""

_CHUNK = 500
"""Most ids in one ``IN`` list."""


def entry_row(entry: Entry, now_ms: int) -> dict[str, Any]:
    body = entry_body(entry.seq, entry.epoch, entry.posting, entry.prev_hash)
    return {**body, "hash": entry.hash, "created_ms": now_ms}


def entry_from_row(row: Any) -> Entry:
    return Entry(row.seq, row.epoch, posting_from_row(row), row.prev_hash, row.hash)


_BALANCE = select(t.balances.c.amount).where(t.balances.c.account == bindparam("account"))
_BALANCES = select(t.balances.c.account, t.balances.c.amount).where(
    t.balances.c.account.in_(bindparam("accounts", expanding=True))
)
_OPEN_EPOCH = select(t.epochs.c.epoch, t.epochs.c.opened_ms).where(t.epochs.c.closed_ms.is_(None))
_e, _l = t.epochs.c, t.ledger_entries.c
_OPENING = select(
    *(
        select(column)
        .where(_e.closed_ms.is_(None))
        .order_by(_e.epoch.desc())
        .limit(1)
        .scalar_subquery()
        .label(name)
        for name, column in (("epoch", _e.epoch), ("opened", _e.opened_ms))
    ),
    *(
        select(column).order_by(_l.seq.desc()).limit(1).scalar_subquery().label(name)
        for name, column in (("seq", _l.seq), ("hash", _l.hash))
    ),
)
"""What a ledger transaction reads as it opens, the open epoch and the chain's head, in
one statement (in two, it cost a round trip more). Like the open epoch a pop reads and
the balances a posting moves, built once."""


@functools.cache
def _set_balance(dialect: str) -> Any:
    """Upsert one ``:account``'s ``:amount``, as a statement built once per dialect: a
    posting's changed balances go in one executemany, where a multi-row ``VALUES`` was
    built, keyed and compiled again for every post (its shape changes with its rows)."""
    stmt = dialect_insert(dialect, t.balances).values(
        account=bindparam("account"), amount=bindparam("amount")
    )
    return stmt.on_conflict_do_update(
        index_elements=[t.balances.c.account], set_={"amount": stmt.excluded.amount}
    )


class LedgerRepository(Repository):
    """Reading the ledger: balances, entries, seals and the open epoch."""

    def balance(self, account: str) -> int:
        value = self.conn.execute(_BALANCE, {"account": account}).scalar()
        return int(value or 0)

    def balances(self) -> dict[str, int]:
        """Every non-zero balance."""
        rows = self.conn.execute(select(t.balances).where(t.balances.c.amount != 0)).all()
        return {row.account: int(row.amount) for row in rows}

    def entries_page(self, after_seq: int = -1, limit: int = PAGE) -> list[Entry]:
        """Up to ``limit`` entries after ``after_seq``, in chain order."""
        c = t.ledger_entries.c
        query = select(t.ledger_entries).where(c.seq > after_seq).order_by(c.seq).limit(limit)
        return [entry_from_row(row) for row in self.conn.execute(query)]

    def account_entries(
        self, account: str, limit: int, before_seq: int | None = None
    ) -> list[Entry]:
        """Entries that touch ``account``, newest first."""
        c = t.ledger_entries.c
        query = select(t.ledger_entries).where(or_(c.debit == account, c.credit == account))
        if before_seq is not None:
            query = query.where(c.seq < before_seq)
        rows = self.conn.execute(query.order_by(c.seq.desc()).limit(limit)).all()
        return [entry_from_row(row) for row in rows]

    def job_entries(self, job_id: str) -> list[Entry]:
        c = t.ledger_entries.c
        query = select(t.ledger_entries).where(c.job_id == job_id).order_by(c.seq)
        return [entry_from_row(row) for row in self.conn.execute(query)]

    def releases_of(self, job_ids: Sequence[str]) -> list[Entry]:
        """The release entries of ``job_ids``, in chain order."""
        c = t.ledger_entries.c
        ids = sorted(set(job_ids))
        found: list[Entry] = []
        for start in range(0, len(ids), _CHUNK):
            query = select(t.ledger_entries).where(
                c.kind == EntryKind.RELEASE.value, c.job_id.in_(ids[start : start + _CHUNK])
            )
            found.extend(entry_from_row(row) for row in self.conn.execute(query))
        return sorted(found, key=lambda e: e.seq)

    def epoch_entries(self, epoch: int) -> list[Entry]:
        c = t.ledger_entries.c
        query = select(t.ledger_entries).where(c.epoch == epoch).order_by(c.seq)
        return [entry_from_row(row) for row in self.conn.execute(query)]

    def kind_entries(self, kind: EntryKind, credit: str | None = None) -> list[Entry]:
        """Entries of ``kind`` (paid into ``credit`` when given), in chain order."""
        c = t.ledger_entries.c
        query = select(t.ledger_entries).where(c.kind == kind.value)
        if credit is not None:
            query = query.where(c.credit == credit)
        return [entry_from_row(row) for row in self.conn.execute(query.order_by(c.seq))]

    def seals(self) -> list[EpochSeal]:
        """Every sealed epoch, oldest first."""
        rows = self.conn.execute(
            select(t.epochs.c.seal).where(t.epochs.c.seal.is_not(None)).order_by(t.epochs.c.epoch)
        ).all()
        return [EpochSeal.from_dict(row.seal) for row in rows]

    def open_epoch(self) -> OpenEpoch | None:
        """The open epoch, or ``None`` before the ledger's first transaction."""
        row = self.conn.execute(_OPEN_EPOCH).first()
        return OpenEpoch(row.epoch, row.opened_ms) if row else None

    def count(self) -> int:
        """Entries in the chain."""
        query = select(func.count()).select_from(t.ledger_entries)
        return int(self.conn.execute(query).scalar_one())

    def journaled(self) -> int:
        """Postings made and not chained yet (:mod:`swarmgen.store.journal`)."""
        query = select(func.count()).select_from(t.ledger_journal)
        return int(self.conn.execute(query).scalar_one())


@dataclass
class Book:
    """The ledger's write side in one locked transaction: post entries, seal epochs."""

    conn: Connection
    epoch: OpenEpoch
    next_seq: int
    head: str
    now_ms: int
    _balances: dict[str, int] = field(default_factory=dict)
    chained: int = 0
    """Journaled postings this transaction appended to the chain when it opened."""

    @classmethod
    def open(cls, conn: Connection, now_ms: int) -> Book:
        """Take the ledger lock, open epoch 0 on first use, read the chain's head, and
        (PostgreSQL) chain the journal."""
        journaled = conn.dialect.name == "postgresql"
        if journaled:
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})
        opening = conn.execute(_OPENING).one()
        if opening.epoch is None:
            conn.execute(t.epochs.insert().values(epoch=0, opened_ms=now_ms))
            epoch = OpenEpoch(0, now_ms)
        else:
            epoch = OpenEpoch(opening.epoch, opening.opened)
        if opening.seq is None:
            next_seq, head = 0, GENESIS_HASH
        else:
            next_seq, head = opening.seq + 1, opening.hash
        book = cls(conn, epoch, next_seq, head, now_ms)
        if journaled:
            book.chained = book._chain_journal()
        return book

    def _chain_journal(self) -> int:
        """Append the journal to the chain in ``id`` order, each posting with the time
        it was journaled, and apply its deferred credits; returns how many were chained.

        Each posting is checked again as it is placed (a journal row is not trusted
        for being there); its balances already moved when it was journaled."""
        c = t.ledger_journal.c
        chained = 0
        after = 0
        while True:
            query = select(t.ledger_journal).where(c.id > after).order_by(c.id).limit(PAGE)
            rows = self.conn.execute(query).all()
            if not rows:
                break
            made: list[dict[str, Any]] = []
            credits: dict[str, int] = {}
            seq, head = self.next_seq, self.head
            for row in rows:
                posting = posting_from_row(row)
                entry = make_entry(seq, self.epoch.epoch, posting, head)
                made.append(entry_row(entry, row.created_ms))
                if posting.amount and deferred(posting.credit):
                    credits[posting.credit] = credits.get(posting.credit, 0) + posting.amount
                seq, head = seq + 1, entry.hash
            self.conn.execute(t.ledger_entries.insert(), made)
            after = rows[-1].id
            self.conn.execute(t.ledger_journal.delete().where(c.id <= after))
            if credits:
                held = self.balances(*credits)
                moved = {account: held[account] + amount for account, amount in credits.items()}
                self._balances.update(moved)
                self._flush_balances(moved)
            self.next_seq, self.head = seq, head
            chained += len(rows)
        return chained

    def balances(self, *accounts: str) -> dict[str, int]:
        """Current balances of ``accounts`` (0 for accounts never used)."""
        known = self._balances
        missing = sorted({a for a in accounts if a not in known})
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            rows = self.conn.execute(_BALANCES, {"accounts": chunk})
            found = {row.account: int(row.amount) for row in rows}
            for account in chunk:
                known[account] = found.get(account, 0)
        return {a: known[a] for a in accounts}

    def balance(self, account: str) -> int:
        return self.balances(account)[account]

    def all_balances(self) -> dict[str, int]:
        """Every non-zero balance, including what this transaction has posted."""
        out = LedgerRepository(self.conn).balances()
        out.update(self._balances)
        return {account: amount for account, amount in out.items() if amount}

    def post(self, postings: Iterable[Posting]) -> list[Entry]:
        """Append ``postings`` in order; all or none (the transaction rolls back)."""
        postings = list(postings)
        self.balances(*(a for p in postings for a in (p.debit, p.credit)))  # one read
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
        self.next_seq, self.head = seq, head
        self._flush_balances(scratch.maps[0])
        return made

    def _flush_balances(self, changed: Mapping[str, int]) -> None:
        rows = [{"account": a, "amount": amount} for a, amount in sorted(changed.items())]
        self.conn.execute(_set_balance(self.conn.dialect.name), rows)

    def totals(self) -> Totals:
        return totals(self.all_balances())

    def seal(self, seal: EpochSeal) -> None:
        """Store ``seal`` on its epoch and open the next one now."""
        self.conn.execute(
            update(t.epochs)
            .where(t.epochs.c.epoch == seal.epoch, t.epochs.c.closed_ms.is_(None))
            .values(closed_ms=self.now_ms, seal=seal.to_dict())
        )
        self.conn.execute(t.epochs.insert().values(epoch=seal.epoch + 1, opened_ms=self.now_ms))
        self.epoch = OpenEpoch(seal.epoch + 1, self.now_ms)


def chain_journal(conn: Connection, touching: str | None = None) -> int:
    """Take the ledger lock and chain the journal; returns how many postings it chained.

    Only if the journal holds a posting (with ``touching``, one that moves that account):
    the lock is not taken for nothing. With no open epoch nothing can be journaled (a
    journaling transaction opens epoch 0 first), so there is nothing to lock for."""
    c = t.ledger_journal.c
    waiting = select(c.id).limit(1)
    if touching is not None:
        waiting = waiting.where(or_(c.debit == touching, c.credit == touching))
    if conn.execute(waiting).first() is None:
        return 0
    epoch = LedgerRepository(conn).open_epoch()
    return 0 if epoch is None else Book.open(conn, epoch.opened_ms).chained
