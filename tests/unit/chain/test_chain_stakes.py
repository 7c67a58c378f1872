"""The coordinator's stake read from the chain (fake chain): pinned per epoch for the draw,
current for serving, and a slash by any coordinator sharing the contract seen by all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from swarmgen.chain.fake import FakeChain, FakeNetwork
from swarmgen.chain.port import ChainError, ChainSeal, SlashClaim, key32
from swarmgen.chain.receipts import ChainReceipt
from swarmgen.chain.stake import PIN_LAG_S, ChainStakes, pinned_block, stake_table
from swarmgen.clock import FakeClock
from swarmgen.coordinator.bootstrap import build_services
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.coordinator.stakes import LedgerStakes, WorkerStake
from swarmgen.core.signing import KeyPair
from swarmgen.store.memory import MemoryStore
from swarmgen.store.records import WorkerRecord

UNIT = 1_000  # chain units per micro-credit in these tests
T0 = 1_700_000_000


def _network() -> tuple[FakeNetwork, FakeChain, FakeChain, FakeChain]:
    net = FakeNetwork(now_s=T0)
    a, b, owner = net.view("0xa"), net.view("0xb"), net.view("0xo")
    a.register_coordinator(b"\x0a" * 32, 10**9)
    b.register_coordinator(b"\x0b" * 32, 10**9)
    a.post_seal(ChainSeal(0, b"\x01" * 32, b"\x01" * 32, 1))
    return net, a, b, owner


def _open(store: MemoryStore, at_s: int) -> None:
    """Open (or reach) an epoch at chain-aligned time ``at_s``."""
    with store.transaction(at_s * 1000, ledger=True):
        pass


def _slash(by: FakeChain, worker: KeyPair, amount: int, output: bytes = b"\x0a" * 32) -> int:
    receipt = ChainReceipt.of("job-1", worker.public_key, output.hex(), worker.sign(b"x"))
    claim = SlashClaim(
        key32(worker.public_key),
        amount,
        0,
        bytes(KeyPair.generate().public_key[:32], "ascii"),
        receipt.digest,
        receipt.job,
        b"\x0a" * 32,
        b"\x0c" * 32,
    )
    return by.propose_slash(claim)


def test_the_draw_reads_stake_as_of_the_epochs_opening(tmp_path: Path) -> None:
    net, _a, b, owner = _network()
    early, late = KeyPair.generate(), KeyPair.generate()
    owner.deposit(key32(early.public_key), 7 * UNIT)
    net.advance(PIN_LAG_S)
    clock = FakeClock(net.now_s * 1000)
    services = build_services(CoordinatorSettings(data=tmp_path), store=MemoryStore(), clock=clock)
    store = services.store
    _open(store, net.now_s)  # epoch 0 opens here
    owner.deposit(key32(early.public_key), 5 * UNIT)  # at the opening: next epoch
    owner.deposit(key32(late.public_key), 9 * UNIT + UNIT - 1)
    stakes = ChainStakes(b, units_per_micro=UNIT, cache_s=0)
    ids = [early.public_key, late.public_key]
    with store.transaction() as tx:
        drawn = stakes.for_draw(tx, ids)
        now = {w: stakes.current(tx, w) for w in ids}
        opened = tx.ledger.open_epoch()
    assert drawn == {ids[0]: WorkerStake(7), ids[1]: WorkerStake(0)}
    assert now == {ids[0]: WorkerStake(12), ids[1]: WorkerStake(9)}  # whole micro-credits
    # anyone holding the epoch's opening time recomputes the table the draws used
    assert opened is not None
    assert stake_table(b, opened.opened_ms, ids, UNIT) == drawn
    # blocks: genesis 0, two registrations, the seal, the deposit (4)
    assert pinned_block(b, opened.opened_ms) == 4

    # the next epoch reads what was there when it opened
    clock.ms = (net.now_s + PIN_LAG_S) * 1000
    assert services.epochs.close_due(force=True) is not None
    with store.transaction() as tx:
        assert stakes.for_draw(tx, ids) == now


def test_the_stake_table_is_fixed_for_the_epoch_whoever_asks() -> None:
    net, a, b, owner = _network()
    worker = KeyPair.generate()
    owner.deposit(key32(worker.public_key), 3 * UNIT)
    net.advance(PIN_LAG_S)
    store = MemoryStore()
    _open(store, net.now_s)
    replicas = [ChainStakes(view, units_per_micro=UNIT) for view in (a, b)]
    with store.transaction() as tx:
        first = replicas[0].for_draw(tx, [worker.public_key])
    owner.deposit(key32(worker.public_key), 100 * UNIT)
    _slash(a, worker, UNIT)  # pending: counts from the next epoch's draw
    with store.transaction() as tx:
        assert replicas[0].for_draw(tx, [worker.public_key]) == first  # cached
        assert replicas[1].for_draw(tx, [worker.public_key]) == first  # read at the pin
        # now: 103 locked, 1 of it may go to the pending slash
        assert replicas[1].current(tx, worker.public_key) == WorkerStake(102, slashed=True)


def test_a_slash_by_any_coordinator_stands_against_the_worker_for_all() -> None:
    net, a, b, owner = _network()
    cheat, refuted = KeyPair.generate(), KeyPair.generate()
    for worker in (cheat, refuted):
        owner.deposit(key32(worker.public_key), 10 * UNIT)
    seen_by_b = ChainStakes(b, units_per_micro=UNIT, cache_s=0)
    store = MemoryStore()
    executed = _slash(a, cheat, 4 * UNIT)
    # a coordinator that misquoted the receipt: the worker refutes it
    receipt = ChainReceipt.of("job-1", refuted.public_key, (b"\x0c" * 32).hex(), refuted.sign(b"x"))
    claim = SlashClaim(
        key32(refuted.public_key),
        UNIT,
        0,
        b"\x07" * 32,
        receipt.digest,
        receipt.job,
        b"\x0a" * 32,
        b"\x0c" * 32,
    )
    cancelled = a.propose_slash(claim)
    owner.dispute(cancelled, receipt.encode())
    with store.transaction() as tx:
        # pending: what the slash may take does not count, the rest still serves
        assert seen_by_b.current(tx, cheat.public_key) == WorkerStake(6, slashed=True)
        assert seen_by_b.current(tx, refuted.public_key) == WorkerStake(10 + 1, slashed=False)
        ids = [cheat.public_key, refuted.public_key, KeyPair.generate().public_key]
        assert seen_by_b.slashed(tx, ids) == {cheat.public_key}
        assert LedgerStakes().slashed(tx, ids) == set()  # no chain: verdicts act locally
    net.advance(net.challenge_window_s)
    b.execute_slash(executed)  # anyone may execute once the window is over
    with store.transaction() as tx:
        assert seen_by_b.current(tx, cheat.public_key) == WorkerStake(6, slashed=True)
    assert [s.state for s in b.slashes_against(key32(cheat.public_key))] == ["executed"]
    assert [s.coordinator for s in b.slashes_against(key32(cheat.public_key))] == ["0xa"]


class _Down:
    """A chain view whose node stopped answering after ``answers`` reads."""

    def __init__(self, inner: FakeChain, answers: int) -> None:
        self.inner, self.answers = inner, answers

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if self.answers <= 0:
                raise ChainError("no EVM node answers (fake outage)")
            self.answers -= 1
            return getattr(self.inner, name)(*args, **kwargs)

        return call


def test_a_chain_that_does_not_answer_fails_closed() -> None:
    net, _a, b, owner = _network()
    worker = KeyPair.generate()
    owner.deposit(key32(worker.public_key), 8 * UNIT)
    net.advance(PIN_LAG_S)
    store = MemoryStore()
    _open(store, net.now_s)
    down = _Down(b, answers=2)  # one current reading (stake, slashes), then nothing
    stakes = ChainStakes(down, units_per_micro=UNIT, cache_s=0)  # type: ignore[arg-type]
    with store.transaction() as tx:
        assert stakes.current(tx, worker.public_key) == WorkerStake(8)
        assert stakes.current(tx, worker.public_key) == WorkerStake(8)  # the last known
        assert stakes.current(tx, KeyPair.generate().public_key) == WorkerStake(0)
        # nobody is drawn until the chain answers, and nothing unread is cached
        assert stakes.for_draw(tx, [worker.public_key]) == {
            worker.public_key: WorkerStake(0, slashed=True)
        }
        down.answers = 10
        assert stakes.for_draw(tx, [worker.public_key]) == {worker.public_key: WorkerStake(8)}


def test_an_epoch_older_than_the_chain_draws_nobody() -> None:
    _net, _a, b, owner = _network()
    worker = KeyPair.generate()
    owner.deposit(key32(worker.public_key), 8 * UNIT)
    store = MemoryStore()
    _open(store, T0 - 60)
    with store.transaction() as tx:
        drawn = ChainStakes(b, units_per_micro=UNIT).for_draw(tx, [worker.public_key])
    assert drawn == {worker.public_key: WorkerStake(0)}


def test_units_per_micro_credit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ChainStakes(FakeNetwork().view("0x1"), units_per_micro=0)


def test_the_verifier_never_draws_a_slashed_worker_and_checks_all_its_jobs(
    tmp_path: Path,
) -> None:
    net, a, b, owner = _network()
    slashed, clean = KeyPair.generate(), KeyPair.generate()
    for worker in (slashed, clean):
        owner.deposit(key32(worker.public_key), 10 * UNIT)
    _slash(a, slashed, UNIT)
    net.advance(PIN_LAG_S)
    clock = FakeClock(net.now_s * 1000)
    services = build_services(
        CoordinatorSettings(data=tmp_path, min_stake=0, trusted_workers=True),
        store=MemoryStore(),
        clock=clock,
    )
    verifier = services.verifier
    assert verifier is not None and isinstance(verifier.stakes, LedgerStakes)
    verifier.stakes = ChainStakes(b, units_per_micro=UNIT, cache_s=0)
    now = clock.now_ms()
    caps = {"models": ["echo-image@fp32"], "max_pixels": 1 << 20}
    with services.store.transaction(now, ledger=True) as tx:
        for i, worker in enumerate((slashed, clean)):
            tx.workers.register(WorkerRecord(worker.public_key, f"o{i}", f"w{i}", caps, now, now))
    with services.store.transaction(now, ledger=True) as tx:
        pool = {c.worker_id: c for c in verifier.candidates(tx, now)}
    assert not pool[slashed.public_key].seats_allowed
    assert pool[clean.public_key].seats_allowed and pool[clean.public_key].stake == 10
