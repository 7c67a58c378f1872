"""With no chain configured nothing changes; with one, the outbox drains on a timer."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmgen.chain.node import DEV_KEYS
from swarmgen.chain.port import key32
from swarmgen.chain.settings import ChainSettings
from swarmgen.chain.stake import ChainStakes
from swarmgen.chain.wiring import chain_task
from swarmgen.clock import FakeClock
from swarmgen.coordinator.bootstrap import build_services, periodic_tasks
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.coordinator.stakes import LedgerStakes
from swarmgen.store.memory import MemoryStore

from .conftest import BOND, Deployed


def test_no_chain_no_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RPC_URL", "CONTRACT", "PRIVATE_KEY"):
        monkeypatch.delenv(f"SWARMGEN_CHAIN_{name}", raising=False)
    services = build_services(
        CoordinatorSettings(data=tmp_path), store=MemoryStore(), clock=FakeClock()
    )
    settings = ChainSettings()
    assert not settings.enabled
    assert chain_task(services.epochs, services.store, services.clock, settings) is None
    assert not services.epochs.chain_outbox
    keyless = ChainSettings(rpc_url="http://127.0.0.1:1", contract="0x" + "00" * 20)
    with pytest.raises(ValueError, match="PRIVATE_KEY"):
        chain_task(services.epochs, services.store, services.clock, keyless)


def test_the_task_posts_each_close(tmp_path: Path, deployed: Deployed) -> None:
    services = build_services(
        CoordinatorSettings(data=tmp_path), store=MemoryStore(), clock=FakeClock()
    )
    settings = ChainSettings(
        rpc_url=deployed.rpc_url, contract=deployed.address, private_key=DEV_KEYS[1]
    )
    task = chain_task(services.epochs, services.store, services.clock, settings)
    assert task is not None and task.name == "chain-outbox" and task.leader_only
    deployed.coordinator.register_coordinator(key32(services.epochs.keys.public_key), BOND)
    seal = services.epochs.close_due(force=True)
    task.run()
    assert seal is not None
    assert deployed.coordinator.seal_of(deployed.coordinator.address, 0) is not None


def test_a_coordinator_configured_by_environment_runs_the_outbox(
    tmp_path: Path, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = CoordinatorSettings(data=tmp_path)
    services = build_services(settings, store=MemoryStore(), clock=FakeClock())
    assert "chain-outbox" not in {t.name for t in periodic_tasks(services, settings)}
    monkeypatch.setenv("SWARMGEN_CHAIN_RPC_URL", deployed.rpc_url)
    monkeypatch.setenv("SWARMGEN_CHAIN_CONTRACT", deployed.address)
    monkeypatch.setenv("SWARMGEN_CHAIN_PRIVATE_KEY", DEV_KEYS[1])
    assert isinstance(services.workers.stakes, LedgerStakes)
    # the environment is read once, where the services are built
    services = build_services(settings, store=MemoryStore(), clock=FakeClock())
    tasks = {t.name: t for t in periodic_tasks(services, settings)}
    assert services.epochs.chain_outbox and tasks["chain-outbox"].leader_only
    # every process (not only the leader) weighs workers by their stake on the chain
    assert services.verifier is not None
    assert isinstance(services.workers.stakes, ChainStakes)
    assert services.verifier.stakes is services.workers.stakes
    deployed.coordinator.register_coordinator(key32(services.epochs.keys.public_key), BOND)
    assert services.epochs.close_due(force=True) is not None
    tasks["chain-outbox"].run()
    assert deployed.coordinator.seal_of(deployed.coordinator.address, 0) is not None
