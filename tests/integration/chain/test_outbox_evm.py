"""The outbox on a real database and a real node: seals written with the close land on
chain once, whatever order the failures come in."""

from __future__ import annotations

from pathlib import Path

from swarmgen.chain.evm import EvmChain, connect
from swarmgen.chain.outbox import ChainOutbox
from swarmgen.chain.port import ChainSeal, key32
from swarmgen.clock import FakeClock
from swarmgen.coordinator.bootstrap import build_services
from swarmgen.coordinator.settings import CoordinatorSettings

from .conftest import BOND, Deployed


def test_seals_reach_the_chain_once_from_the_sql_store(deployed: Deployed, tmp_path: Path) -> None:
    services = build_services(CoordinatorSettings(data=tmp_path), clock=FakeClock())
    try:
        services.epochs.chain_outbox = True
        chain = deployed.coordinator
        chain.register_coordinator(key32(services.epochs.keys.public_key), BOND)
        for _ in range(2):
            services.epochs.close_due(force=True)
        down = EvmChain(connect(deployed.rpc_url), deployed.address, "0x" + "01" * 32)
        broken = ChainOutbox(services.store, down, services.clock)
        assert list(broken.drain().failed) == ["seal:0"]  # an unregistered sender: refused
        outbox = ChainOutbox(services.store, chain, services.clock)
        assert outbox.drain().posted == ["seal:0", "seal:1"]
        assert outbox.drain().posted == []
        with services.store.transaction() as tx:
            seals = tx.ledger.seals()
            rows = [tx.outbox.get(f"seal:{s.epoch}") for s in seals]
        assert [r.attempts if r else None for r in rows] == [2, 1]
        for seal in seals:
            assert chain.seal_of(chain.address, seal.epoch) == ChainSeal.of(seal)
    finally:
        services.store.dispose()
