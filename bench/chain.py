"""Chain bench: gas per epoch seal, per slash (proposal and execution) and per dispute,
seconds from an epoch's close to its seal confirmed on chain, and what reading stake
from the chain costs the draw.

A real anvil node (``chain/node_modules``, ``make install``) with the contract; a
coordinator on SQLite whose epochs close with the chain outbox on; each close is
followed by one outbox drain, timed from the close's start to the confirmed post. By
default anvil mines each transaction at once, so this is the coordinator's own cost;
``--block-time S`` mines a block every S seconds as a public chain does, and the figure
then includes waiting for the block. Gas is the receipts' ``gasUsed``. The stake reads
are :class:`swarmgen.chain.stake.ChainStakes` over ``--workers`` staked keys: the first
draw of an epoch reads each at the epoch's pinned block (stake, then its slashes), later
draws hit the per-epoch cache.

    python bench/chain.py --epochs 20
    python bench/chain.py --epochs 5 --block-time 1

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from swarmgen.chain.evm import EvmChain, connect
from swarmgen.chain.node import DEV_KEYS, AnvilNode, advance, anvil_binary
from swarmgen.chain.outbox import ChainOutbox
from swarmgen.chain.port import SlashClaim, key32
from swarmgen.chain.receipts import ChainReceipt
from swarmgen.chain.stake import ChainStakes
from swarmgen.coordinator.bootstrap import Services, build_services
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.signing import KeyPair

WINDOW_S = 600


def _slash(
    coordinator: EvmChain, owner: EvmChain, output: bytes, epoch: int
) -> tuple[int, ChainReceipt]:
    worker = KeyPair.generate()
    owner.deposit(key32(worker.public_key), 10**18)
    receipt = ChainReceipt.of("job", worker.public_key, output.hex(), worker.sign(b"job"))
    claim = SlashClaim(
        worker=receipt.worker,
        amount=10**17,
        epoch=epoch,
        evidence=hashlib.sha256(receipt.digest).digest(),
        receipt_digest=receipt.digest,
        job=receipt.job,
        claimed_output=b"\x0b" * 32,
        consensus_output=b"\x0c" * 32,
    )
    return coordinator.propose_slash(claim), receipt


def _stake_reads(services: Services, owner: EvmChain, workers: int) -> tuple[float, float]:
    """Milliseconds per worker for an epoch's first stake read (at the pinned block) and
    for a cached one, over ``workers`` staked keys."""
    keys = [KeyPair.generate().public_key for _ in range(workers)]
    for key in keys:
        owner.deposit(key32(key), 10**18)
    clock = services.clock
    latest = int(owner.w3.eth.get_block("latest")["timestamp"])
    while time.time() < latest + 1:  # every deposit's block is stamped before the opening
        time.sleep(0.1)
    # the services' clock is the system's, as the chain's is
    services.epochs.close_due(force=True)
    stakes = ChainStakes(owner, lag_s=0)
    with services.store.transaction(clock.now_ms()) as tx:
        start = time.perf_counter()
        table = stakes.for_draw(tx, keys)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        stakes.for_draw(tx, keys)
        warm = time.perf_counter() - start
    assert all(s.locked == 10**6 for s in table.values()), "a deposit was not read"
    return cold * 1000 / workers, warm * 1000 / workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--block-time", type=int, default=None, help="seconds per block")
    parser.add_argument("--workers", type=int, default=50, help="staked keys read for a draw")
    args = parser.parse_args()
    binary = anvil_binary(Path(__file__).resolve().parents[1])
    if binary is None:
        sys.exit("anvil is missing: run `make install`")
    with (
        AnvilNode(binary, block_time_s=args.block_time) as node,
        tempfile.TemporaryDirectory() as tmp,
    ):
        w3 = connect(node.rpc_url)
        deployed = EvmChain.deploy(
            w3, DEV_KEYS[0], min_bond=10**18, unlock_delay_s=3600, challenge_window_s=WINDOW_S
        )
        deploy_gas = deployed.last_gas
        address = deployed.contract.address
        coordinator, owner = EvmChain(w3, address, DEV_KEYS[1]), EvmChain(w3, address, DEV_KEYS[2])
        services = build_services(CoordinatorSettings(data=Path(tmp)))
        services.epochs.chain_outbox = True
        coordinator.register_coordinator(key32(services.epochs.keys.public_key), 10**18)
        register_gas = coordinator.last_gas
        outbox = ChainOutbox(services.store, coordinator, services.clock)
        seal_gas, seconds = [], []
        for _ in range(args.epochs):
            start = time.perf_counter()
            services.epochs.close_due(force=True)
            assert outbox.drain().posted
            seconds.append(time.perf_counter() - start)
            seal_gas.append(coordinator.last_gas)
        cold_ms, warm_ms = _stake_reads(services, owner, args.workers)  # before the clock jumps
        slash_id, _ = _slash(coordinator, owner, b"\x0b" * 32, 0)
        propose_gas = coordinator.last_gas
        advance(node.rpc_url, WINDOW_S)
        coordinator.execute_slash(slash_id)
        execute_gas = coordinator.last_gas
        disputed, receipt = _slash(coordinator, owner, b"\x0c" * 32, 0)
        owner.dispute(disputed, receipt.encode())
        dispute_gas = owner.last_gas
        services.store.dispose()
    rows = {
        "deploy_gas": deploy_gas,
        "register_coordinator_gas": register_gas,
        "seal_gas_median": int(statistics.median(seal_gas)),
        "seal_gas_max": max(seal_gas),
        "slash_propose_gas": propose_gas,
        "slash_execute_gas": execute_gas,
        "dispute_gas": dispute_gas,
        "close_to_seal_confirmed_s_median": round(statistics.median(seconds), 4),
        "close_to_seal_confirmed_s_max": round(max(seconds), 4),
        "stake_read_cold_ms_per_worker": round(cold_ms, 3),
        "stake_read_cached_ms_per_worker": round(warm_ms, 4),
        "epochs": args.epochs,
        "block_time_s": args.block_time,
        "workers": args.workers,
    }
    width = max(map(len, rows))
    for name, value in rows.items():
        print(f"{name:<{width}}  {value}")
    print(json.dumps(rows, sort_keys=True))


if __name__ == "__main__":
    main()
