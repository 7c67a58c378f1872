"""The unit of work: one transaction for every repository, all or nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from swarmgen.core import accounts, credits
from swarmgen.store import Store, Transaction
from swarmgen.store.records import UserRecord
from swarmgen.store.sql import LedgerNotLocked

T = TypeVar("T")


def while_a_writer_holds(
    store: Store, write: Callable[[Transaction], object], read: Callable[[], T]
) -> tuple[T, float]:
    """``read()``'s answer, and how long it took in ms, while another thread's write
    transaction has made ``write`` and holds the database uncommitted; it commits after."""
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.transaction() as tx:
            write(tx)
            held.set()
            release.wait(5)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert held.wait(5)
        started = time.perf_counter()
        answer = read()
        took_ms = (time.perf_counter() - started) * 1000
    finally:
        release.set()
        thread.join(10)
    return answer, took_ms


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


def test_a_transaction_waiting_for_another_begins_once_it_commits(store: Store) -> None:
    """SQLite lets one transaction in at a time. One that finds the database locked by
    another thread of this process must begin when that one ends, not after SQLite's busy
    handler has slept its 100 ms rounds (after 228 ms of waiting, each a full 100 ms)."""
    held = threading.Event()
    ended: list[float] = []
    began: list[float] = []

    def first() -> None:
        with store.transaction() as tx:
            tx.users.create(UserRecord("u1", "ann", "user", 1))
            held.set()
            time.sleep(0.25)
        ended.append(time.perf_counter())

    def second() -> None:
        held.wait()
        with store.transaction() as tx:
            began.append(time.perf_counter())
            tx.users.create(UserRecord("u2", "bob", "user", 1))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    late_ms = (began[0] - ended[0]) * 1000
    assert late_ms < 40, f"began {late_ms:.0f} ms after the other committed"


def test_a_read_only_transaction_reads_the_last_commit_without_waiting_for_a_writer(
    store: Store,
) -> None:
    """While another thread holds a write transaction, a read-only one begins at once
    (a SQLite write transaction would queue behind it) and sees the last commit, not the
    writer's uncommitted row."""
    with store.transaction() as tx:
        tx.users.create(UserRecord("u1", "ann", "user", 1))

    def read() -> tuple[UserRecord | None, UserRecord | None]:
        with store.transaction(read_only=True) as tx:
            return tx.users.by_id("u1"), tx.users.by_id("u2")

    seen, took_ms = while_a_writer_holds(
        store, lambda tx: tx.users.create(UserRecord("u2", "bob", "user", 2)), read
    )
    assert seen[0] is not None and seen[1] is None
    assert took_ms < 100, f"the read took {took_ms:.0f} ms while a writer held the database"


def test_a_key_owner_is_read_from_the_last_commit_and_a_revoked_key_has_none(
    store: Store,
) -> None:
    """The requester's key lookup reads outside any unit of work: a live key's user, no
    one for an unknown or revoked key, the last commit while a writer holds the database
    (its uncommitted key unseen) without waiting for it, then the writer's key once it
    commits."""
    with store.transaction() as tx:
        tx.users.create(UserRecord("u1", "ann", "user", 1))
        tx.users.add_key("k1", "u1", "a" * 64, "sg_a", 1)
    assert store.key_owner("a" * 64) == UserRecord("u1", "ann", "user", 1)
    assert store.key_owner("b" * 64) is None
    seen, took_ms = while_a_writer_holds(
        store,
        lambda tx: tx.users.add_key("k2", "u1", "b" * 64, "sg_b", 2),
        lambda: (store.key_owner("a" * 64), store.key_owner("b" * 64)),
    )
    assert seen == (UserRecord("u1", "ann", "user", 1), None)
    assert took_ms < 100, f"the lookup took {took_ms:.0f} ms while a writer held the database"
    assert store.key_owner("b" * 64) == UserRecord("u1", "ann", "user", 1)  # committed now
    with store.transaction() as tx:
        assert tx.users.revoke("u1", 3, "k1") == 1
    assert store.key_owner("a" * 64) is None
    assert store.key_owner("b" * 64) == UserRecord("u1", "ann", "user", 1)
