"""The local network runs through two epochs with echo workers; the exported ledger
verifies, balances match a hand computation, and a job's inclusion proof verifies offline."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core import accounts
from swarmgen.core.audit import load_export
from swarmgen.core.credits import validator_fee
from swarmgen.core.ledger import EntryKind, project
from swarmgen.core.proofs import JobProof
from swarmgen.core.rewards import split
from swarmgen.localnet import LocalNetwork
from swarmgen.registry import load_registry
from swarmgen.sdk.client import Client, image_job, text_job

IMAGE = "echo-image@fp32"
TEXT = "echo-text@fp32"
EPOCH_S = 3


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swarmgen.cli.main", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def wait_for_epoch(client: Client, epoch: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while client.balance()["epoch"] < epoch:
        if time.monotonic() > deadline:
            raise TimeoutError(f"epoch {epoch} never opened")
        time.sleep(0.1)


def run_phase(client: Client, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    accepted = [client.submit(job) for job in jobs]
    views = [client.wait(a["id"], timeout=60) for a in accepted]
    assert {v["state"] for v in views} == {"completed"}, views
    return views


def check_proof(data: Path, proof_file: Path, job_id: str, wrong_key: str) -> None:
    """An inclusion proof of ``job_id``, checked offline by the CLI and in process."""
    key = cli("ledger", "key", "--data", str(data)).stdout.strip()
    proved = cli("ledger", "prove", job_id, "--out", str(proof_file), "--data", str(data))
    assert proved.returncode == 0, proved.stderr
    checked = cli("ledger", "verify-proof", str(proof_file), "--coordinator-key", key)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    proof = JobProof.from_dict(json.loads(proof_file.read_text()))
    assert proof.verify(key)
    assert {p.entry.kind for p in proof.proofs} >= {EntryKind.RESERVE, EntryKind.RELEASE}
    other = cli("ledger", "verify-proof", str(proof_file), "--coordinator-key", wrong_key)
    assert other.returncode == 1


def test_two_epochs_verify_and_balance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARMGEN_EPOCH_LENGTH_S", str(EPOCH_S))
    monkeypatch.setenv("SWARMGEN_EPOCH_CHECK_S", "0.2")
    # one worker cannot check itself, and a drawn job is paid only once its check settles:
    # this hand computation of a close is about the ledger, so nothing is drawn
    monkeypatch.setenv("SWARMGEN_VERIFY", "false")
    data = tmp_path / "data"
    settings = CoordinatorSettings(data=data)
    welcome = settings.welcome_credits
    with LocalNetwork(data) as net:
        requester = net.create_key("requester")
        owner = net.create_key("owner")
        net.start_coordinator()
        worker_id = net.start_worker("w1", [IMAGE, TEXT], env={"SWARMGEN_API_KEY": owner})
        views: list[dict[str, Any]] = []
        with Client(net.url, requester) as client:
            for phase in range(2):
                jobs = [
                    image_job(f"a circle {phase}", IMAGE, width=64, height=64, steps=4, n=2),
                    text_job(TEXT, prompt=f"count to {phase + 3}", max_tokens=16),
                ]
                views += run_phase(client, jobs)
                # the phase's work is in this epoch or an earlier one: wait until it is sealed
                wait_for_epoch(client, client.balance()["epoch"] + 1)
            requester_balance = client.balance()["balance"]
        owner_client = Client(net.url, owner)
        owner_balance = owner_client.balance()["balance"]
        owner_client.close()

    export = tmp_path / "ledger.jsonl"
    assert cli("ledger", "export", str(export), "--data", str(data)).returncode == 0
    verified = cli("ledger", "verify", str(export))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] and report["seals"] >= 2
    live = cli("ledger", "verify", "--data", str(data))
    assert live.returncode == 0, live.stdout + live.stderr

    # hand computation, from the registry, the settings and the prices the API quoted
    prices = [v["price"] for v in views]
    assert requester_balance == welcome - sum(prices)
    loaded = load_export(export.read_text().splitlines(keepends=True))
    epochs_of = {e.job_id: e.epoch for e in loaded.entries if e.kind is EntryKind.RELEASE}
    worked: dict[int, set[str]] = {}
    for view in views:
        worked.setdefault(epochs_of[view["id"]], set()).add(view["model"])
    shares = load_registry().emission_shares()
    parts = split(settings.epoch_emission, shares)
    emitted = sum(parts[model] for models in worked.values() for model in models)
    earned = sum(p - validator_fee(p, settings.validator_fee_ppm) for p in prices)
    assert owner_balance == welcome + earned + emitted
    balances = project(e.posting for e in loaded.entries)
    assert balances[accounts.VALIDATOR_POOL] == sum(prices) - earned
    staked = LocalNetwork.stake  # granted to the owner, then locked behind its worker
    assert balances[accounts.stake(worker_id)] == staked
    assert -balances[accounts.MINT] == 2 * welcome + staked + emitted == report["minted"]

    check_proof(data, tmp_path / "proof.json", views[0]["id"], wrong_key=owner)
