"""The one refund path: a job's escrow goes back to its requester once, and only escrow."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.integration.store.rows import job

from swarmgen.coordinator.credits import Payment, refund
from swarmgen.core import accounts, credits
from swarmgen.store import SqlStore, open_store
from swarmgen.store.records import UserRecord


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()


def test_refund_returns_reserved_escrow_once_and_leaves_other_jobs_alone(store: SqlStore) -> None:
    reason = credits.RefundReason.FAILED
    with store.transaction(1, ledger=True) as tx:
        tx.users.create(UserRecord("u1", "ann", "user", 1))
        tx.book.post([credits.grant("u1", 100, "welcome")])
        reserved = job("j1", user_id="u1", price=30, payment=Payment.RESERVED)
        pending = job("j2", user_id="u1", price=20, payment=Payment.PENDING)
        validation = job("j3", validates="j0")
        tx.jobs.insert([reserved, pending, validation])
        balances = tx.book.balances(accounts.user("u1"), accounts.escrow("j1"))
        tx.book.post([credits.reserve(balances, "u1", "j1", 30)])
        assert refund(tx, [reserved, pending, validation], reason) == ["j1"]
    with store.transaction(2, ledger=True) as tx:
        assert tx.ledger.balance(accounts.user("u1")) == 100
        assert tx.ledger.balance(accounts.escrow("j1")) == 0
        (again,) = tx.jobs.get_many(["j1"])
        assert again.payment == Payment.REFUNDED
        assert refund(tx, [again], reason) == []  # already refunded: nothing moves
        assert [e.kind.value for e in tx.ledger.job_entries("j1")] == ["reserve", "refund"]
