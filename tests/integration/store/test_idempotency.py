"""Idempotency keys in the store: one claim per live ``(user, key)``, even when two race."""

from __future__ import annotations

import threading

from swarmgen.store import Store
from swarmgen.store.records import SYSTEM_USER, IdempotentRequest


def request(key: str, jobs: tuple[str, ...], at: int, user: str = SYSTEM_USER) -> IdempotentRequest:
    return IdempotentRequest(user, key, "f" * 64, jobs, at)


def test_the_first_claim_wins_and_an_old_one_is_replaced(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.idempotency.claim(request("k", ("a",), 100), since_ms=0) is None
    with store.transaction() as tx:
        assert tx.idempotency.claim(request("k", ("b",), 200), since_ms=0) == request(
            "k", ("a",), 100
        )
        assert tx.idempotency.get(SYSTEM_USER, "k", since_ms=101) is None  # out of its window
        assert tx.idempotency.claim(request("k", ("c",), 300), since_ms=101) is None
    with store.transaction() as tx:
        assert tx.idempotency.get(SYSTEM_USER, "k", since_ms=0) == request("k", ("c",), 300)
        assert tx.idempotency.prune(before_ms=301) == 1
        assert tx.idempotency.get(SYSTEM_USER, "k", since_ms=0) is None


def test_a_racing_claim_waits_and_finds_the_winner(store: Store) -> None:
    """The loser's transaction starts while the winner's is open and uncommitted."""
    found: list[IdempotentRequest | None] = []
    started = threading.Event()

    def rival() -> None:
        started.set()
        with store.transaction() as tx:
            found.append(tx.idempotency.claim(request("k", ("late",), 2), since_ms=0))

    thread = threading.Thread(target=rival)
    with store.transaction() as tx:
        assert tx.idempotency.claim(request("k", ("early",), 1), since_ms=0) is None
        thread.start()
        started.wait()
        thread.join(0.3)  # it cannot finish while this claim is open
        assert thread.is_alive()
    thread.join(10)
    assert found == [request("k", ("early",), 1)]
