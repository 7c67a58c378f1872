"""The unit of work: one transaction for every repository, all or nothing."""

from __future__ import annotations

import pytest

from swarmgen.core import accounts, credits
from swarmgen.store import Store
from swarmgen.store.records import UserRecord
from swarmgen.store.sql import LedgerNotLocked


def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction(1, ledger=True) as tx:
        tx.users.create(UserRecord("u1", "ann", "user", 1))
        tx.book.post([credits.grant("u1", 5, "welcome")])
        raise RuntimeError("boom")
    with store.transaction() as tx:
        assert tx.users.by_name("ann") is None
        assert tx.ledger.count() == 0


def test_rows_and_entries_commit_together(store: Store) -> None:
    with store.transaction(1, ledger=True) as tx:
        tx.users.create(UserRecord("u1", "ann", "user", 1))
        tx.book.post([credits.grant("u1", 5, "welcome")])
    with store.transaction() as tx:
        assert tx.users.by_name("ann") == UserRecord("u1", "ann", "user", 1)
        assert tx.ledger.balance(accounts.user("u1")) == 5
        assert tx.ledger.open_epoch() is not None


def test_posting_needs_a_ledger_transaction(store: Store) -> None:
    with store.transaction() as tx, pytest.raises(LedgerNotLocked):
        tx.book.post([])
    with pytest.raises(ValueError, match="now_ms"):
        store.transaction(ledger=True).__enter__()


def test_create_if_missing_returns_the_user_already_there(store: Store) -> None:
    with store.transaction() as tx:
        first = tx.users.create_if_missing(UserRecord("u1", "anonymous", "anonymous", 1))
        again = tx.users.create_if_missing(UserRecord("u2", "anonymous", "anonymous", 2))
    assert first == again == UserRecord("u1", "anonymous", "anonymous", 1)
