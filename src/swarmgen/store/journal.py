"""Job money without the ledger's global lock: postings journaled under row locks.

A submit's reserve, a completion's release and fee, a refund: these are most of the
ledger's writes, one or more per job. On PostgreSQL they no longer wait for each other
behind the ledger lock (decision 0027). A transaction opened with ``postings=True``
takes that lock *shared*, and gets a :class:`Journal` as ``tx.postings``:

- it locks the balance rows a posting moves (``SELECT … FOR UPDATE``, in account
  order), checks the posting and the overdraft rule against them, updates them, and
  only then appends the posting to ``ledger_journal``, whose ``id`` comes from a
  sequence. Two postings that move one account are therefore journaled in the order
  they moved it, so the chain replayed in journal order never overdraws an account the
  live balances kept positive;
- the ``validator_pool``, which every paid completion credits and only an epoch close
  pays out of, is not locked: its credits are applied when they are chained, so
  completions of different workers do not queue on its row;
- a record (amount 0) moves nothing and locks nothing.

Postings of different requesters and workers run side by side. Chaining is the ledger
lock's exclusive holder's work: every transaction opened with ``ledger=True`` (grants,
stake, the reaper's pass, an epoch close) first appends the journal to the hash chain in
``id`` order (:meth:`swarmgen.store.ledger.Book.open`). Holding the lock exclusively
means no journaling transaction is in flight, so every journaled posting it will ever
see is already there and numbered after the ones it chains. The epoch cannot change
under a shared holder either, so a posting is chained into the epoch it was made in.

SQLite has one writer at a time anyway and posts straight to the chain.
"""

from __future__ import annotations

import functools
from collections import ChainMap
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, select, text

from swarmgen.core.accounts import AccountKind, account_kind
from swarmgen.core.ledger import EntryKind, LedgerError, Posting, apply, posting_body
from swarmgen.core.receipts import Receipt
from swarmgen.store import schema as t
from swarmgen.store.base import dialect_insert
from swarmgen.store.records import OpenEpoch

LOCK_ID = 0x5357_4C47
"""PostgreSQL advisory lock of the ledger: shared by journaling transactions, exclusive
for those that write the chain itself."""

DEFERRED = frozenset({AccountKind.VALIDATOR_POOL})
"""Accounts the hot path only credits: their balance moves when the credit is chained."""

_LOCK_ROWS = (
    select(t.balances.c.account, t.balances.c.amount)
    .where(t.balances.c.account.in_(bindparam("accounts", expanding=True)))
    .order_by(t.balances.c.account)
    .with_for_update()
)
_OPEN_EPOCH = select(t.epochs.c.epoch, t.epochs.c.opened_ms).where(t.epochs.c.closed_ms.is_(None))


@functools.cache
def _add_rows() -> Any:
    """Insert a zero balance for each ``:account`` not there yet (so it can be locked)."""
    stmt = dialect_insert("postgresql", t.balances).values(account=bindparam("account"), amount=0)
    return stmt.on_conflict_do_nothing(index_elements=[t.balances.c.account])


_SET = (
    t.balances.update()
    .where(t.balances.c.account == bindparam("key"))
    .values(amount=bindparam("amount"))
)


def journal_row(posting: Posting, now_ms: int) -> dict[str, Any]:
    return {**posting_body(posting), "created_ms": now_ms}


def posting_from_row(row: Any) -> Posting:
    receipt = Receipt.from_dict(row.receipt) if row.receipt is not None else None
    kind = EntryKind(row.kind)
    return Posting(kind, row.debit, row.credit, row.amount, row.job_id, row.memo, receipt)


def deferred(account: str) -> bool:
    """Whether ``account``'s credits are applied when chained (see the module docstring)."""
    return account_kind(account) in DEFERRED


@dataclass
class Journal:
    """Job money in one transaction holding the ledger lock shared (module docstring)."""

    conn: Connection
    epoch: OpenEpoch
    now_ms: int
    _locked: dict[str, int] = field(default_factory=dict)
    """Balances of the rows this transaction holds, as it has left them."""

    @classmethod
    def open(cls, conn: Connection, now_ms: int) -> Journal:
        """Take the ledger lock shared and read the open epoch (opening epoch 0 on first use)."""
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:id)"), {"id": LOCK_ID})
        row = conn.execute(_OPEN_EPOCH).first()
        if row is None:
            first = dialect_insert("postgresql", t.epochs).values(epoch=0, opened_ms=now_ms)
            conn.execute(first.on_conflict_do_nothing(index_elements=[t.epochs.c.epoch]))
            row = conn.execute(_OPEN_EPOCH).one()
        return cls(conn, OpenEpoch(row.epoch, row.opened_ms), now_ms)

    def balances(self, *accounts: str) -> dict[str, int]:
        """Balances of ``accounts``, their rows locked to this transaction's end."""
        self._lock(accounts)
        return {a: self._locked[a] for a in accounts}

    def balance(self, account: str) -> int:
        return self.balances(account)[account]

    def post(self, postings: Iterable[Posting]) -> None:
        """Check ``postings``, move the balances they touch and journal them, in order;
        all or none (the transaction rolls back)."""
        postings = list(postings)
        for posting in postings:
            posting.check()
            if posting.amount and deferred(posting.debit):
                raise LedgerError(f"{posting.kind}: {posting.debit} pays out only at a close")
        moving = [p for p in postings if p.amount]
        self._lock(a for p in moving for a in (p.debit, p.credit) if not deferred(a))
        scratch: ChainMap[str, int] = ChainMap({}, self._locked)
        for posting in moving:
            apply(scratch, posting)
        changed = {a: v for a, v in scratch.maps[0].items() if not deferred(a)}
        if changed:
            rows = [{"key": a, "amount": v} for a, v in sorted(changed.items())]
            self.conn.execute(_SET, rows)
            self._locked.update(changed)
        if postings:
            rows = [journal_row(p, self.now_ms) for p in postings]
            self.conn.execute(t.ledger_journal.insert(), rows)

    def _lock(self, accounts: Iterable[str]) -> None:
        missing = sorted({a for a in accounts if a not in self._locked})
        if not missing:
            return
        self.conn.execute(_add_rows(), [{"account": a} for a in missing])
        rows = self.conn.execute(_LOCK_ROWS, {"accounts": missing})
        self._locked.update((row.account, int(row.amount)) for row in rows)
