"""``swarmgen worker`` still runs a worker, and ``swarmgen worker stake`` reaches the chain
commands; the CLI and the coordinator start without web3."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.test_light_imports import loaded_after
from typer.testing import CliRunner

from swarmgen.cli.main import app

runner = CliRunner()


class Daemon:
    ran: dict[str, Any] = {}

    def install_signal_handlers(self) -> None:
        pass

    def run(self) -> None:
        Daemon.ran["ran"] = True


def test_worker_runs_with_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    def build(settings: Any) -> Daemon:
        Daemon.ran["settings"] = settings
        return Daemon()

    monkeypatch.setattr("swarmgen.worker.factory.build_worker", build)
    monkeypatch.setattr("swarmgen.cli.serve.setup_logging", lambda verbose: None)
    done = runner.invoke(
        app, ["worker", "--model", "echo-image@fp32", "--model", "echo-text@fp32", "--name", "w1"]
    )
    assert done.exit_code == 0, done.output
    settings = Daemon.ran["settings"]
    assert settings.models == ["echo-image@fp32", "echo-text@fp32"] and settings.name == "w1"
    assert Daemon.ran["ran"]


def test_worker_without_a_model_is_refused() -> None:
    done = runner.invoke(app, ["worker"])
    assert done.exit_code == 2 and "--model" in done.output


def test_worker_stake_is_the_chain_stake_group() -> None:
    done = runner.invoke(app, ["worker", "stake", "--help"])
    assert done.exit_code == 0
    assert all(name in done.output for name in ("deposit", "unlock", "withdraw", "show"))


def test_the_cli_and_the_coordinator_import_no_web3() -> None:
    code = "import swarmgen.coordinator.app, swarmgen.cli.main, swarmgen.coordinator.epochs"
    assert loaded_after(code, ("web3", "eth_abi", "eth_account")) == []
