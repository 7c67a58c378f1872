"""Job money side by side: ``postings=True`` transactions lock only the accounts they
move, and the chain they are appended to stays exact (decision 0027).

Every store runs the money tests (on SQLite and in memory, job money goes to the chain
at once); the ones about locks need PostgreSQL, where the journal is."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest
from tests.integration.store.rows import job

from swarmgen.coordinator.auditing import projection_matches
from swarmgen.coordinator.credits import Payment, refund
from swarmgen.core import accounts, credits
from swarmgen.core.jobs import JobState
from swarmgen.core.ledger import (
    GENESIS_HASH,
    EntryKind,
    LedgerError,
    Overdraft,
    Posting,
    make_entry,
    project,
)
from swarmgen.errors import InsufficientCredits
from swarmgen.store import Store
from swarmgen.store.records import Completion, UserRecord
from swarmgen.store.sql import LedgerNotLocked, SqlStore

POOL = accounts.VALIDATOR_POOL


def _grant(store: Store, *users: str, amount: int = 1_000) -> None:
    with store.transaction(1, ledger=True) as tx:
        tx.book.post([credits.grant(user, amount, "test") for user in users])


def _reserve(store: Store, user: str, job: str, price: int, now: int = 2) -> None:
    with store.transaction(now, postings=True) as tx:
        balances = tx.postings.balances(accounts.user(user), accounts.escrow(job))
        tx.postings.post([credits.reserve(balances, user, job, price)])


def _complete(store: Store, job: str, worker: str, fee: int, now: int = 3) -> None:
    """Escrow to the worker less ``fee``, which goes to the validator pool."""
    with store.transaction(now, postings=True) as tx:
        held = tx.postings.balance(accounts.escrow(job))
        tx.postings.post(
            [
                Posting(EntryKind.RELEASE, accounts.escrow(job), accounts.worker(worker),
                        held - fee, job),
                Posting(EntryKind.VALIDATOR_FEE, accounts.escrow(job), POOL, fee, job),
            ]
        )  # fmt: skip


def _chain(store: Store) -> list[object]:
    store.chain_journal()
    with store.transaction() as tx:
        return list(tx.ledger.entries_page(limit=100_000))


def _assert_exact(store: Store) -> None:
    """The chain links, its fold in chain order never overdraws (``project`` raises),
    and it equals the stored balances."""
    entries = _chain(store)
    head = GENESIS_HASH
    for seq, entry in enumerate(entries):
        assert entry.seq == seq and entry.prev_hash == head  # type: ignore[attr-defined]
        again = make_entry(seq, entry.epoch, entry.posting, head)  # type: ignore[attr-defined]
        assert again.hash == entry.hash  # type: ignore[attr-defined]
        head = again.hash
    project(e.posting for e in entries)  # type: ignore[attr-defined]
    assert projection_matches(store)


def test_job_money_reaches_the_chain_exactly(store: Store) -> None:
    _grant(store, "u1")
    _reserve(store, "u1", "j1", 300)
    _complete(store, "j1", "w1", 15)
    entries = _chain(store)
    kinds = [e.kind for e in entries]  # type: ignore[attr-defined]
    assert kinds == [EntryKind.GRANT, EntryKind.RESERVE, EntryKind.RELEASE, EntryKind.VALIDATOR_FEE]
    with store.transaction() as tx:
        assert tx.ledger.balance(accounts.user("u1")) == 700
        assert tx.ledger.balance(accounts.worker("w1")) == 285
        assert tx.ledger.balance(POOL) == 15
    _assert_exact(store)


def test_a_postings_transaction_cannot_write_the_chain_itself(store: Store) -> None:
    with store.transaction(1, postings=True) as tx, pytest.raises(LedgerNotLocked):
        tx.book.post([])
    with store.transaction(1) as tx, pytest.raises(LedgerNotLocked):
        tx.postings.post([])


def test_an_overdraft_is_refused_and_leaves_nothing(store: Store) -> None:
    _grant(store, "u1", amount=100)
    with pytest.raises(Overdraft), store.transaction(2, postings=True) as tx:
        tx.postings.post([Posting(EntryKind.RESERVE, accounts.user("u1"),
                                  accounts.escrow("j1"), 101, "j1")])  # fmt: skip
    with store.transaction() as tx:
        assert tx.ledger.balance(accounts.user("u1")) == 100
    _assert_exact(store)


postgres = pytest.mark.parametrize("store", [pytest.param("postgres", marks=pytest.mark.postgres)],
                                   indirect=True)  # fmt: skip


@postgres
def test_the_validator_pool_pays_out_only_at_a_close(store: Store) -> None:
    """The pool is credited without locking its row, so the hot path may not debit it."""
    _grant(store, "u1")
    _reserve(store, "u1", "j1", 100)
    _complete(store, "j1", "w1", 10)
    reward = Posting(EntryKind.VALIDATOR_REWARD, POOL, accounts.worker("w2"), 5)
    refused = pytest.raises(LedgerError, match="only at a close")
    with refused, store.transaction(4, postings=True) as tx:
        tx.postings.post([reward])
    with store.transaction(4, ledger=True) as tx:  # chains first: the pool holds 10
        assert tx.book.balance(POOL) == 10
        tx.book.post([reward])
    _assert_exact(store)


@postgres
def test_postings_wait_in_the_journal_until_an_exclusive_transaction_chains_them(
    store: Store,
) -> None:
    _grant(store, "u1")
    _reserve(store, "u1", "j1", 100)
    _complete(store, "j1", "w1", 10)
    with store.transaction() as tx:
        assert tx.ledger.count() == 1  # the grant
        assert tx.ledger.balance(accounts.user("u1")) == 900  # balances move at once
        assert tx.ledger.balance(POOL) == 0  # … but the pool's when chained
    with store.transaction(5, ledger=True) as tx:
        assert tx.ledger.count() == 4
    assert store.chain_journal() == 0
    _assert_exact(store)


@postgres
def test_a_user_s_entries_are_chained_only_when_the_journal_holds_some_of_theirs(
    store: Store,
) -> None:
    _grant(store, "u1", "u2")
    _reserve(store, "u1", "j1", 100)
    assert store.chain_journal(touching=accounts.user("u2")) == 0
    assert store.chain_journal(touching=accounts.user("u1")) == 1


@postgres
def test_an_empty_journal_is_not_chained_under_the_lock(store: Store) -> None:
    """The reaper chains the journal every second: with nothing in it, it waits for no
    lock (here held by a ledger transaction for as long as the call takes)."""
    _grant(store, "u1")
    _reserve(store, "u1", "j1", 100)
    assert store.chain_journal() == 1
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.transaction(7, ledger=True):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    try:
        started = time.monotonic()
        assert store.chain_journal() == 0
        assert time.monotonic() - started < 1
    finally:
        release.set()
        holder.join()


def _in_thread(work: Callable[[], None]) -> tuple[threading.Thread, list[float]]:
    done: list[float] = []

    def run() -> None:
        work()
        done.append(time.perf_counter())

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done


def _holding(store: Store, user: str, job: str, held: threading.Event, go: threading.Event) -> None:
    with store.transaction(2, postings=True) as tx:
        balances = tx.postings.balances(accounts.user(user), accounts.escrow(job))
        tx.postings.post([credits.reserve(balances, user, job, 100)])
        held.set()
        go.wait(10)


@postgres
def test_requesters_reserve_side_by_side_and_one_requester_in_turn(store: Store) -> None:
    """While one transaction holds u1's row, u2's reserve commits; u1's next waits for
    the first to commit and then sees what it left."""
    _grant(store, "u1", "u2", amount=150)
    held, go = threading.Event(), threading.Event()
    first, first_done = _in_thread(lambda: _holding(store, "u1", "j1", held, go))
    assert held.wait(10)
    other, other_done = _in_thread(lambda: _reserve(store, "u2", "j2", 100))
    other.join(5)
    assert other_done, "another requester's reserve waited for u1's transaction"

    failed: list[BaseException] = []

    def again() -> None:
        try:
            _reserve(store, "u1", "j3", 100)
        except InsufficientCredits as exc:
            failed.append(exc)

    same, same_done = _in_thread(again)
    time.sleep(0.3)
    assert not same_done, "u1's second reserve did not wait for its first"
    released = time.perf_counter()  # the first commits only after this
    go.set()
    for thread in (first, same):
        thread.join(10)
    # Not against first_done: the first thread notes its time after the commit's answer
    # reaches it, and the second, woken by the same commit, may note its own before.
    assert first_done and same_done and same_done[0] >= released
    assert len(failed) == 1, "the second reserve saw 150, not the 50 the first left"
    _assert_exact(store)


@postgres
def test_an_exclusive_transaction_waits_for_postings_in_flight(store: Store) -> None:
    """The epoch cannot close under a posting, so a posting is chained into its epoch."""
    _grant(store, "u1")
    held, go = threading.Event(), threading.Event()
    first, _ = _in_thread(lambda: _holding(store, "u1", "j1", held, go))
    assert held.wait(10)
    seen: list[int] = []

    def close() -> None:
        with store.transaction(9, ledger=True) as tx:
            seen.append(tx.ledger.count())

    closer, closer_done = _in_thread(close)
    time.sleep(0.3)
    assert not closer_done
    go.set()
    for thread in (first, closer):
        thread.join(10)
    assert seen == [2]  # the grant and the reserve it waited for
    _assert_exact(store)


@postgres
def test_many_writers_at_once_leave_an_exact_chain(store: Store) -> None:
    """Threads reserve, complete and refund jobs of four requesters, each spending down
    to nothing, while an exclusive transaction chains now and then: every refused
    posting is an overdraft the live balances refused, the chain replayed in its own
    order never overdraws, and it matches the balances."""
    assert isinstance(store, SqlStore)
    users = ["u1", "u2", "u3", "u4"]
    _grant(store, *users, amount=2_000)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        rng = random.Random(index)
        try:
            for n in range(40):
                user, job = rng.choice(users), f"j{index}-{n}"
                try:
                    _reserve(store, user, job, rng.randrange(50, 200))
                except InsufficientCredits:
                    continue
                if rng.random() < 0.3:
                    with store.transaction(3, postings=True) as tx:
                        held = tx.postings.balances(accounts.escrow(job))
                        tx.postings.post(
                            [credits.refund(held, job, user, credits.RefundReason.CANCELLED)]
                        )
                else:
                    _complete(store, job, f"w{index % 3}", rng.randrange(0, 20) or 1)
                if n % 10 == 0:
                    store.chain_journal()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    _assert_exact(store)
    with store.transaction(10, ledger=True) as tx:
        totals = tx.book.totals()
    assert totals.supply == totals.minted - totals.burned == 4 * 2_000


@postgres
def test_a_posting_that_waited_for_an_account_is_chained_after_what_it_waited_for(
    store: Store,
) -> None:
    """u1 holds 100. A refund of 50 holds u1's row; a reserve of 150 waits for it, then
    sees 150. Chained in any other order the reserve would overdraw u1."""
    _grant(store, "u1", amount=150)
    _reserve(store, "u1", "j1", 50)
    held, go = threading.Event(), threading.Event()

    def refund() -> None:
        with store.transaction(3, postings=True) as tx:
            escrow = tx.postings.balances(accounts.escrow("j1"), accounts.user("u1"))
            held.set()
            go.wait(10)
            refunded = credits.refund(escrow, "j1", "u1", credits.RefundReason.CANCELLED)
            tx.postings.post([refunded])

    def reserve() -> None:  # posted without reading first: post takes the locks itself
        with store.transaction(4, postings=True) as tx:
            tx.postings.post([Posting(EntryKind.RESERVE, accounts.user("u1"),
                                      accounts.escrow("j2"), 150, "j2")])  # fmt: skip

    first, _ = _in_thread(refund)
    assert held.wait(10)
    second, second_done = _in_thread(reserve)
    time.sleep(0.3)
    go.set()
    for thread in (first, second):
        thread.join(10)
    assert second_done
    kinds = [e.kind for e in _chain(store)]  # type: ignore[attr-defined]
    assert kinds[-2:] == [EntryKind.REFUND, EntryKind.RESERVE]
    _assert_exact(store)


def _leased(store: Store, job_id: str = "j1", worker: str = "w1") -> None:
    """u1's job ``job_id``, its price reserved, leased to ``worker``."""
    _grant(store, "u1")
    _reserve(store, "u1", job_id, 100)
    with store.transaction(2) as tx:
        tx.users.create(UserRecord("u1", "ann", "user", 1))
        tx.jobs.insert(
            [
                job(job_id, user_id="u1", price=100, payment=Payment.RESERVED,
                    state=JobState.LEASED, worker_id=worker, lease_expires_ms=10**12,
                    leased_ms=2, attempts=1)
            ]
        )  # fmt: skip


def _completing(store: Store, out: dict[str, object]) -> None:
    """What a completion does with job money: complete, then pay what it completed."""
    with store.transaction(6, postings=True) as tx:
        done = tx.jobs.complete(
            "w1", 6, [Completion("j1", ["k"], "d" * 64, {}, {})],
            payment=(Payment.RESERVED, Payment.PENDING),
        )  # fmt: skip
        paid = [j for j in done if j.payment == Payment.PENDING]
        for j in paid:
            _pay(tx, j.id)
        out["done"] = [j.id for j in done]


def _pay(tx: object, job_id: str) -> None:
    escrow = accounts.escrow(job_id)
    held = tx.postings.balance(escrow)  # type: ignore[attr-defined]
    release = Posting(EntryKind.RELEASE, escrow, accounts.worker("w1"), held, job_id)
    tx.postings.post([release])  # type: ignore[attr-defined]


@postgres
@pytest.mark.parametrize("meanwhile", ["hand-back", "cancel"])
def test_a_completion_never_pays_a_job_that_left_its_lease_meanwhile(
    store: Store, meanwhile: str
) -> None:
    """The job's hand-back (or cancel, refunded) is in flight when its worker's result
    arrives: the completion waits for it, then sees the job is no longer leased, and
    neither completes nor pays it."""
    _leased(store)
    other = store.transaction(5, postings=True)
    tx = other.__enter__()
    if meanwhile == "hand-back":
        assert tx.dispatch.release("w1", ["j1"], 5) == (["j1"], [])
    else:
        cancelled = tx.jobs.cancel("j1", 5)
        assert cancelled is not None
        refund(tx, [cancelled], credits.RefundReason.CANCELLED)
    out: dict[str, object] = {}
    completing, _ = _in_thread(lambda: _completing(store, out))
    time.sleep(0.3)
    other.__exit__(None, None, None)
    completing.join(10)
    assert out == {"done": []}
    with store.transaction() as reads:
        assert reads.ledger.balance(accounts.worker("w1")) == 0
        state = reads.jobs.get("j1").state
    assert state is (JobState.QUEUED if meanwhile == "hand-back" else JobState.CANCELLED)
    _assert_exact(store)
