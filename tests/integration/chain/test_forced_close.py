"""``swarmgen ledger close --force`` owes the chain what a periodic close owes it.

An operator's forced close runs in a process of its own, not in the coordinator that
drains the outbox; with the coordinator's chain settings in its environment it must
still write the seal (and each slash) to the outbox in the closing transaction, or the
chain never hears of the epoch.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.coordinator.conftest import (  # noqa: F401 (fixtures)
    Env,
    env,
    settings_overrides,
)
from tests.integration.coordinator.test_owners import drain, staked
from tests.integration.coordinator.test_verification import complete, owned
from typer.testing import CliRunner

from swarmgen.chain.node import advance
from swarmgen.chain.outbox import ChainOutbox
from swarmgen.chain.port import key32
from swarmgen.cli.main import app
from swarmgen.clock import FakeClock
from swarmgen.coordinator.admin import create_key
from swarmgen.coordinator.bootstrap import build_services
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.keyfile import load_or_create
from swarmgen.store import open_store
from swarmgen.store.records import OutboxRow

from .conftest import BOND, WINDOW_S, Deployed

STAKE = 10**18

runner = CliRunner()


def _history(data: Path) -> None:
    """A coordinator's data folder with a grant in its open epoch 0."""
    services = build_services(CoordinatorSettings(data=data), clock=FakeClock())
    try:
        create_key(services.store, services.clock, "alice")
        services.credits.grant("alice", 5)
    finally:
        services.store.dispose()


def _close(
    data: Path, chain: dict[str, str], database_url: str | None = None
) -> tuple[int, str, str]:
    """``swarmgen ledger close --force`` with ``chain`` as ``SWARMGEN_CHAIN_*``."""
    where = {f"SWARMGEN_CHAIN_{k.upper()}": v for k, v in chain.items()}
    args = ["ledger", "close", "--force", "--data", str(data)]
    args += ["--database-url", database_url] if database_url else []
    done = runner.invoke(app, args, env=where)
    return done.exit_code, done.stdout, done.stderr


def _outbox(data: Path) -> list[OutboxRow]:
    store = open_store(CoordinatorSettings(data=data).db_url())
    try:
        with store.transaction() as tx:
            return tx.outbox.waiting()
    finally:
        store.dispose()


def test_a_forced_close_posts_its_seal_through_the_outbox(
    deployed: Deployed, tmp_path: Path
) -> None:
    _history(tmp_path)
    code, out, err = _close(tmp_path, {"rpc_url": deployed.rpc_url, "contract": deployed.address})
    assert code == 0, out + err
    printed = json.loads(out)
    assert f"epoch 0 is owed to the chain at {deployed.rpc_url}" in err
    (row,) = _outbox(tmp_path)
    assert (row.key, row.kind, row.payload) == ("seal:0", "seal", printed)

    # the coordinator's outbox drains it as it drains a periodic close's: no re-owing
    coordinator = deployed.coordinator
    ledger_key = load_or_create(CoordinatorSettings(data=tmp_path).key_path).public_key
    coordinator.register_coordinator(key32(ledger_key), BOND)
    store = open_store(CoordinatorSettings(data=tmp_path).db_url())
    try:
        assert ChainOutbox(store, coordinator, FakeClock()).drain().posted == ["seal:0"]
    finally:
        store.dispose()
    there = coordinator.seal_of(coordinator.address, 0)
    assert there is not None and there.root.hex() == printed["root"]
    assert there.count == printed["count"]


def test_a_forced_close_slashes_a_cheater_on_chain(env: Env, deployed: Deployed) -> None:  # noqa: F811
    """The scenario of ``test_slash_flow``, closed by an operator instead of the
    coordinator: the slash is owed, proposed, and executed once the window passes."""
    coordinator, owner = deployed.coordinator, deployed.worker_owner
    coordinator.register_coordinator(key32(env.http.app.state.epochs.keys.public_key), BOND)
    cheat = owned(env, "mal")
    validators = [staked(env, "bob"), staked(env, "cat")]
    owner.deposit(key32(cheat.keys.public_key), STAKE)
    cheated = [complete(env, cheat, cheat=True) for _ in range(4)]
    drain(validators)

    chain = {"rpc_url": deployed.rpc_url, "contract": deployed.address}
    # mal's panels, short of a third owner, carry over the close of their epoch and
    # settle, two owners unanimous, at the next one
    for _ in range(2):
        code, out, err = _close(env.data, chain, env.store.url)
        assert code == 0, out + err
    slash_key = f"slash:1:{cheat.keys.public_key}"
    with env.store.transaction() as tx:
        owed = tx.outbox.get(slash_key)
    assert owed is not None and owed.payload["job_id"] in cheated

    outbox = ChainOutbox(env.store, coordinator, env.clock)
    assert outbox.drain().posted == ["seal:0", "seal:1", slash_key]
    assert coordinator.seal_of(coordinator.address, 0) is not None
    (slash,) = coordinator.slashes_against(key32(cheat.keys.public_key))
    assert coordinator.slash_id_of(coordinator.address, bytes.fromhex(owed.payload["evidence"]))
    advance(deployed.rpc_url, WINDOW_S)
    assert outbox.drain().posted == [f"execute:{slash.id}"]
    assert coordinator.stake_of(key32(cheat.keys.public_key)).locked == STAKE - slash.amount > 0


def test_without_a_chain_a_forced_close_owes_nothing(tmp_path: Path) -> None:
    _history(tmp_path)
    code, out, err = _close(tmp_path, {})
    assert code == 0, out + err
    assert json.loads(out)["epoch"] == 0 and "owed" not in err
    assert _outbox(tmp_path) == []
