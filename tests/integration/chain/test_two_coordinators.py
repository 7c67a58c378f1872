"""Two coordinators, one contract: a cheater caught on one is checked everywhere.

Two independent coordinators (own databases, own keys, own requesters) register in
one contract on a real anvil node. Three workers stake once on the chain and serve both
with one key each; neither coordinator holds any of their stake. One cheats on A. At the
close after the cheat's epoch (its panels, short of a third owner, carry over one close)
the seal goes on chain and the cheater's slash is proposed; after the
challenge window it is executed. B then checks every job of that worker and never draws
it for a seat, while the honest workers' checks stay at their reputation's rate. Both
exports verify against the chain and a tampered one does not. A slash proposed on a
receipt the coordinator misquotes is refuted by the worker's own signed receipt and
cancelled by the contract.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.integration.coordinator.conftest import ALICE_CREDITS, SKEW_S, Clock, Env
from tests.integration.coordinator.test_verification import complete, pop_one, run_echo
from typer.testing import CliRunner

from swarmgen.chain.evm import EvmChain, connect
from swarmgen.chain.node import DEV_KEYS, AnvilNode
from swarmgen.chain.port import SlashClaim, SlashRecord, key32
from swarmgen.chain.receipts import ChainReceipt
from swarmgen.chain.settings import ChainSettings
from swarmgen.chain.stake import ChainStakes
from swarmgen.cli.main import app as cli_app
from swarmgen.coordinator.admin import create_key
from swarmgen.coordinator.app import create_app
from swarmgen.coordinator.auditing import export
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.coordinator.stakes import WorkerStake
from swarmgen.core.receipts import Receipt
from swarmgen.core.signing import KeyPair
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.store import open_store

ETH = 10**18
STAKE = 2 * ETH
"""Each worker's stake on chain: two credits at the default rate, twice the minimum."""
MIN_STAKE = 1_000_000
WINDOW_S = 3
"""The challenge window: short, so the test waits it out in real time."""
SLASH_PPM = 100_000


@dataclass
class Network:
    rpc_url: str
    contract: str
    reader: EvmChain
    owner: EvmChain
    """The EVM account that staked every worker (and disputes for them)."""

    def view(self, key: str) -> EvmChain:
        return EvmChain(self.reader.w3, self.contract, key)


@pytest.fixture
def network(anvil: AnvilNode) -> Network:
    w3 = connect(anvil.rpc_url)
    deployed = EvmChain.deploy(
        w3, DEV_KEYS[0], min_bond=ETH, unlock_delay_s=4 * WINDOW_S, challenge_window_s=WINDOW_S
    )
    address = deployed.contract.address
    return Network(
        anvil.rpc_url,
        address,
        EvmChain(w3, address),
        EvmChain(w3, address, DEV_KEYS[3]),
    )


def wait_until(what: Callable[[], object], timeout_s: float, step_s: float = 0.05) -> float:
    """Seconds until ``what()`` is true; fails past ``timeout_s``."""
    start = time.monotonic()
    while not what():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"not true within {timeout_s} s")
        time.sleep(step_s)
    return time.monotonic() - start


def chain_caught_up(network: Network) -> None:
    """Wait until the wall clock passes the newest block's stamp (anvil stamps blocks
    mined in one second a second apart), so an epoch opened now pins every block so far."""
    latest = int(network.reader.w3.eth.get_block("latest")["timestamp"])
    wait_until(lambda: time.time() >= latest + 1, timeout_s=30, step_s=0.1)


@contextmanager
def coordinator(url: str, data: Path, network: Network, key: str) -> Iterator[Env]:
    """A coordinator on its own database, weighing workers by their stake on the chain."""
    store = open_store(url)
    clock = Clock()
    settings = CoordinatorSettings(
        data=data,
        database_url=url,
        lease_min_s=5,
        max_attempts=2,
        clock_skew_s=SKEW_S,
        seat_hold_s=0,  # seats go out at once: the tests drain them with no other work
        min_stake=MIN_STAKE,
        slash_ppm=SLASH_PPM,
        panel_stages=(1, 3, 5),
        trusted_workers=True,
    )
    chain = ChainSettings(
        rpc_url=network.rpc_url,
        contract=network.contract,
        private_key=key,
        outbox_interval_s=0.1,
        stake_cache_s=0,
        stake_pin_lag_s=0,
    )
    app = create_app(settings, store=store, clock=clock, chain=chain)
    try:
        with TestClient(app, raise_server_exceptions=False) as http:
            requester = create_key(store, clock, "alice").key
            app.state.credits.grant("alice", ALICE_CREDITS)
            yield Env(http, store, clock, requester, data)
    finally:  # also when the test fails: pooled connections left to the collector warn
        store.dispose()


def join(env: Env, owner: str, keys: KeyPair) -> WorkerClient:
    """``keys`` registered under ``owner`` on ``env``'s coordinator: no stake locked there."""
    worker = env.worker(keys)
    worker.owner_key = env.new_key(owner)
    worker.register(f"{owner}-w", ["echo-image@fp32", "echo-text@fp32"], 1024 * 1024, 4)
    return worker


def drain(workers: list[WorkerClient]) -> int:
    """Let every worker run, honestly, every seat it is drawn for; returns how many."""
    ran = 0
    while any(held := [w.pop(0, 1) for w in workers]):
        for worker, jobs in zip(workers, held, strict=True):
            if jobs:
                worker.submit([run_echo(worker, jobs[0])])
                ran += 1
    return ran


def serve(env: Env, workers: dict[str, WorkerClient], name: str) -> str:
    """``name`` runs a new job of ``env``'s requester once every drawn seat is served."""
    drain(list(workers.values()))
    return complete(env, workers[name])


def ledger_verify(lines: list[str], path: Path, network: Network) -> int:
    path.write_text("".join(lines))
    where = ["--chain", network.rpc_url, "--contract", network.contract]
    done = CliRunner().invoke(cli_app, ["ledger", "verify", str(path), *where])
    return done.exit_code


def test_a_cheater_caught_on_one_coordinator_is_checked_on_every_job_by_the_other(
    database_url: str, tmp_path: Path, network: Network
) -> None:
    keys = {name: KeyPair.generate() for name in ("ann", "bob", "mal")}
    for worker_keys in keys.values():
        network.owner.deposit(key32(worker_keys.public_key), STAKE)
    chain_caught_up(network)
    with (
        coordinator(database_url, tmp_path / "a", network, DEV_KEYS[1]) as a,
        coordinator(f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "b", network, DEV_KEYS[2]) as b,
    ):
        for env, key in ((a, DEV_KEYS[1]), (b, DEV_KEYS[2])):
            ledger_key = key32(env.http.app.state.epochs.keys.public_key)
            network.view(key).register_coordinator(ledger_key, ETH)
        on_a = {name: join(a, name, k) for name, k in keys.items()}
        on_b = {name: join(b, name, k) for name, k in keys.items()}
        ann, _bob, mal = (k.public_key for k in keys.values())

        # B, epoch 0: all three serve honestly on stake neither coordinator holds
        b_jobs = {name: serve(b, on_b, name) for name in on_b}
        drain(list(on_b.values()))
        assert {b.reads.validations.get_check(j).status for j in b_jobs.values()} == {"upheld"}

        # A, epoch 0: mal cheats, its checks are drawn among ann and bob by chain stake
        cheated = [complete(a, on_a["mal"], cheat=True) for _ in range(4)]
        assert drain([on_a["ann"], on_a["bob"]]) >= 8  # two votes against each claim
        # the panels, stalled short of a third owner, carry over the close of their
        # epoch and settle, two owners unanimous, at the next one
        assert a.http.app.state.epochs.close_due(force=True) is not None
        assert {a.reads.validations.get_check(j).status for j in cheated} == {"pending"}
        closed_at = time.monotonic()
        assert a.http.app.state.epochs.close_due(force=True) is not None
        assert {a.reads.validations.get_check(j).status for j in cheated} == {"rejected"}
        seal_s = wait_until(
            lambda: network.reader.seal_of(network.view(DEV_KEYS[1]).address, 0), 10
        )
        assert seal_s < 10 and time.monotonic() - closed_at < 10
        (slash,) = wait_until_slashes(network, keys["mal"])
        assert slash.coordinator == network.view(DEV_KEYS[1]).address
        assert slash.state == "pending" and slash.amount == STAKE * SLASH_PPM // 1_000_000

        # the window passes; A's outbox executes the slash, which B reads on the chain
        wait_until(
            lambda: network.reader.slash_state(slash.id) == "executed", timeout_s=6 * WINDOW_S
        )
        assert network.reader.stake_of(key32(mal)).locked == STAKE - slash.amount
        b_stakes = b.http.app.state.workers.stakes
        assert isinstance(b_stakes, ChainStakes)
        with b.store.transaction() as tx:
            assert b_stakes.current(tx, mal) == WorkerStake(
                (STAKE - slash.amount) // 10**12, slashed=True
            )
            assert b_stakes.current(tx, ann) == WorkerStake(STAKE // 10**12)

        b_jobs_later = b_after_the_slash(b, on_b, network)
        assert set(b_jobs_later) == set(on_b)

        # credits stay per coordinator: A's requester key means nothing to B
        assert b.http.get("/api/v1/credits/balance", headers=b.auth).status_code == 200
        assert b.http.get("/api/v1/credits/balance", headers=a.auth).status_code == 401

        # both exports verify against the chain once their seals are posted
        b_seal = network.view(DEV_KEYS[2]).address
        wait_until(lambda: network.reader.seal_of(b_seal, 0), timeout_s=10)
        for env, name in ((a, "a"), (b, "b")):
            lines = list(export(env.store, env.http.app.state.epochs.keys.public_key))
            assert ledger_verify(lines, tmp_path / f"{name}.jsonl", network) == 0
            tampered = [
                line.replace('"amount":1000000000', '"amount":1000000001') for line in lines
            ]
            assert tampered != lines
            assert ledger_verify(tampered, tmp_path / f"{name}-t.jsonl", network) != 0


def b_after_the_slash(b: Env, on_b: dict[str, WorkerClient], network: Network) -> dict[str, str]:
    """B's next epoch, opened after the slash: returns each worker's job there."""
    ann, bob, mal = (on_b[name].keys.public_key for name in ("ann", "bob", "mal"))
    # B, epoch 1 (opened after the slash): every job of mal is checked, and mal sits
    # no seat; ann's and bob's jobs are checked at their reputation's rate
    chain_caught_up(network)
    b.clock.ms = max(b.clock.ms, int(time.time() * 1000))  # B's clock meets the chain's
    assert b.http.app.state.epochs.close_due(force=True) is not None
    later = {name: serve(b, on_b, name) for name in on_b}
    rates = {name: b.reads.jobs.get(job).sample_rate for name, job in later.items()}
    assert rates["mal"] == 1.0 and rates["ann"] < 1.0 and rates["bob"] < 1.0
    assert b.reads.validations.get_check(later["mal"]) is not None
    now = b.clock.now_ms()
    verifier = b.http.app.state.services.verifier
    with b.store.transaction(now, ledger=True) as tx:
        pool = {c.worker_id: c for c in verifier.candidates(tx, now)}
    assert not pool[mal].seats_allowed and pool[ann].seats_allowed and pool[bob].seats_allowed
    drain(list(on_b.values()))
    seats = b.reads.jobs.get_many(
        [s.validation_job_id for s in b.reads.validations.ballots(later["mal"])]
    )
    assert seats and {s.worker_id for s in seats} <= {ann, bob}
    assert b.reads.validations.get_check(later["mal"]).status == "upheld"  # honest on B
    return later


def wait_until_slashes(network: Network, worker: KeyPair) -> list[SlashRecord]:
    wait_until(lambda: network.reader.slashes_against(key32(worker.public_key)), timeout_s=10)
    return network.reader.slashes_against(key32(worker.public_key))


def test_a_slash_on_a_misquoted_receipt_is_refuted_by_the_workers_signed_receipt(
    database_url: str, tmp_path: Path, network: Network
) -> None:
    ann = KeyPair.generate()
    network.owner.deposit(key32(ann.public_key), STAKE)
    chain_caught_up(network)
    with coordinator(database_url, tmp_path / "a", network, DEV_KEYS[1]) as a:
        rogue = network.view(DEV_KEYS[1])
        rogue.register_coordinator(key32(a.http.app.state.epochs.keys.public_key), ETH)
        worker = join(a, "ann", ann)
        job_id = str(a.submit(a.image(width=64, height=64))["id"])
        assignment = pop_one(worker)
        worker.submit([run_echo(worker, assignment)])
        assert a.http.app.state.epochs.close_due(force=True) is not None
        wait_until(lambda: rogue.seal_of(rogue.address, 0), timeout_s=10)
        signed = a.reads.jobs.get(job_id).receipt
        assert signed is not None
        receipt = Receipt.from_dict(signed)
        assert receipt.worker_id == ann.public_key and receipt.verify()  # ann signed it
        shown = ChainReceipt.of(
            receipt.job_id, receipt.worker_id, receipt.output_digest, receipt.signature
        )
        # the coordinator commits to ann's receipt but claims it carried another output
        slash_id = rogue.propose_slash(
            SlashClaim(
                worker=shown.worker,
                amount=ETH,
                epoch=0,
                evidence=b"\x05" * 32,
                receipt_digest=shown.digest,
                job=shown.job,
                claimed_output=b"\x0b" * 32,
                consensus_output=shown.output,
            )
        )
        bond_before = rogue.contract.functions.coordinators(rogue.address).call()[1]
        network.owner.dispute(slash_id, shown.encode())
        assert rogue.slash_state(slash_id) == "cancelled"
        info = rogue.stake_of(shown.worker)
        assert (info.locked, info.pending_slashes) == (STAKE + ETH, 0)
        assert rogue.contract.functions.coordinators(rogue.address).call()[1] == bond_before - ETH
        # a cancelled slash stands against no one
        stakes = a.http.app.state.workers.stakes
        with a.store.transaction() as tx:
            assert stakes.current(tx, ann.public_key) == WorkerStake((STAKE + ETH) // 10**12)
