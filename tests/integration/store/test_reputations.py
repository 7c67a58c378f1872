"""Reputation follows the owner: a key reads as its owner's worst key (all three stores)."""

from __future__ import annotations

from swarmgen.store import Store
from swarmgen.store.records import UserRecord, WorkerRecord


def register(store: Store, owners: dict[str, str | None]) -> None:
    with store.transaction() as tx:
        for owner in sorted({o for o in owners.values() if o}):
            tx.users.create_if_missing(UserRecord(owner, f"name-{owner}", "user", 1))
        for key, owner in owners.items():
            tx.workers.register(WorkerRecord(key, owner, key, {}, 1, 1))


def test_a_new_key_starts_from_its_owners_lowest_reputation(store: Store) -> None:
    register(store, {"a1": "ann", "a2": "ann", "b1": "bob", "loner": None, "fresh": "cat"})
    with store.transaction() as tx:
        tx.validations.set_reputation("a1", 0.8, True, 3)
        tx.validations.set_reputation("a2", 0.3, True, 3)
        tx.validations.set_reputation("b1", 0.9, True, 3)
        tx.validations.set_reputation("loner", 0.5, True, 3)
    register(store, {"a3": "ann"})  # a new key of ann's
    with store.transaction() as tx:
        found = tx.validations.reputations(["a1", "a2", "a3", "b1", "loner", "fresh", "nobody"])
        assert tx.workers.keys_of(["ann", "bob", "cat", "dan"]) == {
            "ann": ["a1", "a2", "a3"],
            "bob": ["b1"],
            "cat": ["fresh"],
        }
    # never better than the owner's worst; other owners and unowned keys keep their own
    assert found == {"a1": 0.3, "a2": 0.3, "a3": 0.3, "b1": 0.9, "loner": 0.5}
