"""The chain commands end to end on anvil: stake through the CLI, seals posted from the
outbox, and ``ledger verify --chain`` failing on a history rewritten after its seal went up."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from swarmgen.chain.node import DEV_KEYS
from swarmgen.cli.main import app
from swarmgen.clock import FakeClock
from swarmgen.coordinator.admin import create_key
from swarmgen.coordinator.bootstrap import build_services
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.signing import KeyPair

from .conftest import BOND, Deployed

runner = CliRunner()


def cli(*args: str, key: str | None = None) -> tuple[int, str]:
    env = {"SWARMGEN_CHAIN_PRIVATE_KEY": key} if key else {}
    done = runner.invoke(app, list(args), env=env)
    return done.exit_code, done.output


def history(data: Path, granted: list[int]) -> None:
    """A coordinator in ``data`` that grants ``granted`` credits, one epoch each."""
    services = build_services(CoordinatorSettings(data=data), clock=FakeClock())
    try:
        services.epochs.chain_outbox = True
        create_key(services.store, services.clock, "alice")
        for amount in granted:
            services.credits.grant("alice", amount)
            services.epochs.close_due(force=True)
    finally:
        services.store.dispose()


def test_stake_through_the_cli(deployed: Deployed, tmp_path: Path) -> None:
    worker = KeyPair.generate().public_key
    where = ("--chain", deployed.rpc_url, "--contract", deployed.address)
    code, out = cli(
        "chain", "stake", "deposit", "500", *where, "--worker-id", worker, key=DEV_KEYS[2]
    )
    assert code == 0, out
    code, out = cli(
        "chain", "stake", "unlock", "200", *where, "--worker-id", worker, key=DEV_KEYS[2]
    )
    assert code == 0, out
    code, out = cli("chain", "stake", "show", *where, "--worker-id", worker)
    shown = json.loads(out)
    assert (shown["locked"], shown["unbonding"], shown["slashable"]) == (300, 200, 500)
    code, out = cli("chain", "stake", "withdraw", *where, "--worker-id", worker, key=DEV_KEYS[2])
    assert code == 2 and "StillLocked" in out
    code, out = cli(
        "chain", "stake", "deposit", "1", *where, "--worker-id", worker, key=DEV_KEYS[3]
    )
    assert code == 2 and "NotOwner" in out
    code, out = cli("chain", "stake", "show", *where, "--worker", "nobody", "--data", str(tmp_path))
    assert code == 2 and "no worker key" in out


def test_ledger_verify_against_the_chain(deployed: Deployed, tmp_path: Path) -> None:
    where = ("--chain", deployed.rpc_url, "--contract", deployed.address)
    honest, rewritten = tmp_path / "a", tmp_path / "b"
    history(honest, [5, 7])
    code, out = cli(
        "chain", "register", *where, "--bond", str(BOND), "--data", str(honest), key=DEV_KEYS[1]
    )
    assert code == 0, out
    code, out = cli("chain", "post", *where, "--data", str(honest), key=DEV_KEYS[1])
    assert code == 0 and json.loads(out)["posted"] == ["seal:0", "seal:1"], out
    exported = tmp_path / "a.jsonl"
    assert cli("ledger", "export", str(exported), "--data", str(honest))[0] == 0
    code, out = cli("ledger", "verify", str(exported), *where)
    assert code == 0, out
    assert json.loads(out.splitlines()[-1])["chain"]["checked"] == 2

    # the same key re-seals a history of its own making: valid alone, not against the chain
    rewritten.mkdir()
    key_file = CoordinatorSettings(data=honest).key_path
    shutil.copy(key_file, CoordinatorSettings(data=rewritten).key_path)
    history(rewritten, [5, 8])
    second = tmp_path / "b.jsonl"
    assert cli("ledger", "export", str(second), "--data", str(rewritten))[0] == 0
    assert cli("ledger", "verify", str(second))[0] == 0
    code, out = cli("ledger", "verify", str(second), *where)
    report = json.loads(out.splitlines()[-1])
    assert code == 1 and report["ok"] and not report["chain"]["ok"]
    assert report["chain"]["problems"] == [
        "epoch 0: root, head_hash differ",
        "epoch 1: root, head_hash differ",
    ]

    tampered = tmp_path / "t.jsonl"
    tampered.write_text(exported.read_text().replace('"amount":7', '"amount":70'))
    code, out = cli("ledger", "verify", str(tampered), *where)
    assert code == 1, out


def test_chain_needs_a_contract(tmp_path: Path) -> None:
    code, out = cli("ledger", "verify", str(tmp_path / "x"), "--chain", "http://127.0.0.1:1")
    assert code == 2 and "go together" in out
