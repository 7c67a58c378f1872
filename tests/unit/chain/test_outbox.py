"""The chain outbox on the memory store and the fake chain: each seal posted once, in order,
retried after a failure, never twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmgen.chain.fake import FakeChain, FakeNetwork
from swarmgen.chain.outbox import ChainOutbox
from swarmgen.chain.port import ChainSeal, SlashClaim, key32
from swarmgen.chain.receipts import ChainReceipt
from swarmgen.clock import FakeClock
from swarmgen.coordinator.bootstrap import Services, build_services
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.seal import EpochSeal
from swarmgen.core.signing import KeyPair
from swarmgen.store.memory import MemoryStore

COORDINATOR = "0x" + "11" * 20


@pytest.fixture
def services(tmp_path: Path) -> Services:
    services = build_services(
        CoordinatorSettings(data=tmp_path), store=MemoryStore(), clock=FakeClock()
    )
    services.epochs.chain_outbox = True
    return services


@pytest.fixture
def chain() -> FakeChain:
    view = FakeNetwork().view(COORDINATOR)
    view.register_coordinator(b"\x01" * 32, 1)
    return view


def outbox(services: Services, chain: FakeChain) -> ChainOutbox:
    return ChainOutbox(services.store, chain, services.clock)


def close(services: Services, times: int = 1) -> None:
    for _ in range(times):
        assert services.epochs.close_due(force=True) is not None


def test_no_chain_no_outbox(tmp_path: Path) -> None:
    services = build_services(
        CoordinatorSettings(data=tmp_path), store=MemoryStore(), clock=FakeClock()
    )
    close(services)
    with services.store.transaction() as tx:
        assert tx.outbox.waiting() == []


def test_each_seal_is_owed_with_the_close_and_posted_once(
    services: Services, chain: FakeChain
) -> None:
    close(services, 2)
    with services.store.transaction() as tx:
        assert [row.key for row in tx.outbox.waiting()] == ["seal:0", "seal:1"]
        seals = tx.ledger.seals()
    drained = outbox(services, chain).drain()
    assert drained.posted == ["seal:0", "seal:1"] and not drained.failed
    for seal in seals:
        on_chain = chain.seal_of(COORDINATOR, seal.epoch)
        assert on_chain == ChainSeal.of(seal) and not on_chain.differences(seal)
    posts = chain.net.posts
    assert outbox(services, chain).drain().posted == []
    assert chain.net.posts == posts
    with services.store.transaction() as tx:
        row = tx.outbox.get("seal:1")
    assert row is not None and row.posted_ms is not None and row.tx and row.attempts == 1


def test_a_failed_post_is_retried_and_later_epochs_wait(
    services: Services, chain: FakeChain
) -> None:
    close(services, 2)
    chain.net.fail_next = 1
    drained = outbox(services, chain).drain()
    assert drained.posted == [] and list(drained.failed) == ["seal:0"]
    assert chain.seal_of(COORDINATOR, 1) is None  # epoch 1 never overtakes epoch 0
    with services.store.transaction() as tx:
        row = tx.outbox.get("seal:0")
    assert row is not None and row.attempts == 1 and "outage" in (row.last_error or "")
    assert outbox(services, chain).drain().posted == ["seal:0", "seal:1"]


def test_a_post_that_landed_before_a_crash_is_not_sent_again(
    services: Services, chain: FakeChain
) -> None:
    close(services)
    with services.store.transaction() as tx:
        (seal,) = tx.ledger.seals()
    chain.post_seal(ChainSeal.of(seal))  # posted, but the coordinator died before marking
    posts = chain.net.posts
    assert outbox(services, chain).drain().posted == ["seal:0"]
    assert chain.net.posts == posts


def test_another_seal_on_chain_for_the_epoch_is_a_conflict_that_stays_visible(
    services: Services, chain: FakeChain
) -> None:
    close(services)
    chain.post_seal(ChainSeal(0, b"\x09" * 32, b"\x09" * 32, 0))
    drained = outbox(services, chain).drain()
    assert "another seal" in drained.failed["seal:0"]
    with services.store.transaction() as tx:
        assert [row.key for row in tx.outbox.waiting()] == ["seal:0"]


def test_epochs_sealed_without_the_outbox_are_owed_late_and_posted_once(
    tmp_path: Path, chain: FakeChain
) -> None:
    services = build_services(
        CoordinatorSettings(data=tmp_path), store=MemoryStore(), clock=FakeClock()
    )
    close(services, 2)
    chain.post_seal(ChainSeal.of(_seals(services)[0]))  # epoch 0 already went up
    posts = chain.net.posts
    box = outbox(services, chain)
    assert box.owe_sealed() == 2 and box.owe_sealed() == 0
    assert box.drain().posted == ["seal:0", "seal:1"]
    assert chain.net.posts == posts + 1


def _seals(services: Services) -> list[EpochSeal]:
    with services.store.transaction() as tx:
        return tx.ledger.seals()


def test_a_slash_disputed_in_its_window_is_never_executed(
    services: Services, chain: FakeChain
) -> None:
    close(services)
    outbox(services, chain).drain()
    worker, owner = KeyPair.generate(), chain.net.view("0xowner")
    owner.deposit(key32(worker.public_key), 100)
    honest = ChainReceipt.of("j", worker.public_key, "0c" * 32, worker.sign(b"j"))
    claim = SlashClaim(
        honest.worker, 10, 0, b"e" * 32, honest.digest, honest.job, b"\x0b" * 32, b"\x0c" * 32
    )
    slash_id = chain.propose_slash(claim)
    with services.store.transaction() as tx:
        tx.outbox.add(f"execute:{slash_id}", "execute", {"slash_id": slash_id}, 0)
    assert outbox(services, chain).drain().posted == []  # early, not failed
    owner.dispute(slash_id, honest.encode())
    chain.net.advance(chain.net.challenge_window_s)
    posts = chain.net.posts
    assert outbox(services, chain).drain().posted == [f"execute:{slash_id}"]
    assert chain.net.posts == posts and chain.slash_state(slash_id) == "cancelled"
    with services.store.transaction() as tx:
        row = tx.outbox.get(f"execute:{slash_id}")
    assert row is not None and row.tx == "cancelled"
