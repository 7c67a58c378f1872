"""``swarmgen demo --chain --serve`` on the echo models: stake, seal and slash on anvil.

One run (the real CLI in a subprocess: anvil, a coordinator, three honest workers and
the cheater) serves both tests. What the demo printed and wrote is checked against the
chain itself, read here with a view of our own while the demo still serves; then
Ctrl-C must stop the node with the swarm.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from tests.e2e.demo_process import Demo, served_demo

from swarmgen.chain.evm import EvmChain, connect
from swarmgen.chain.node import anvil_binary
from swarmgen.chain.port import ChainError, key32
from swarmgen.core.audit import load_export
from swarmgen.demo.chain import STAKE

IMAGES = 8
TEXTS = 2
WINDOW_S = 3
READY_S = 360


def _chain(demo: Demo) -> EvmChain:
    on_chain = demo.summary["chain"]
    return EvmChain(connect(on_chain["rpc_url"]), on_chain["contract"])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if anvil_binary() is None:
        pytest.fail("anvil is missing: run `make install` (npm ci in chain/)")
    out = tmp_path_factory.mktemp("demo-chain") / "out"
    args = ["--image-model", "echo-image@fp32", "--text-model", "echo-text@fp32"]
    args += ["--images", str(IMAGES), "--texts", str(TEXTS)]
    args += ["--chain", "--challenge-window-s", str(WINDOW_S)]
    with served_demo(out, args, READY_S) as served:
        yield served


def test_stake_seal_and_slash_are_on_chain_and_the_export_verifies_against_it(
    demo: Demo,
) -> None:
    summary, chain = demo.summary, _chain(demo)
    on_chain = summary["chain"]
    text = "".join(demo.lines)
    assert "equals the ledger's" in text and "executed slash" in text
    assert "ok: 1 sealed epoch(s) equal on chain" in text
    workers = {w["name"]: w for w in summary["workers"]}
    cheater = workers.pop("mal")
    assert cheater["epoch"]["invalid"] and not any(w["epoch"]["invalid"] for w in workers.values())

    # every worker's stake is on chain, each bound to an owner account of its own, and
    # the draw weighed it: the honest workers sat on panels
    stakes = {s["worker"]: s for s in on_chain["stakes"]}
    assert set(stakes) == {*workers, "mal"}
    assert len({s["owner"] for s in stakes.values()}) == len(stakes)
    for name, worker in workers.items():
        info = chain.stake_of(key32(worker["id"]))
        assert (info.owner, info.locked, info.pending_slashes) == (stakes[name]["owner"], STAKE, 0)
        assert chain.slashes_against(key32(worker["id"])) == []
    assert sum(w["epoch"]["rewards"] for w in workers.values()) > 0

    # the epoch's seal on chain is the exported ledger's, posted by its coordinator
    export = load_export((demo.out / "ledger.jsonl").read_text().splitlines(True))
    (sealed,) = [s for s in export.seals if s.epoch == summary["epoch"]]
    coordinator = chain.coordinator_of(key32(export.coordinator))
    assert coordinator == on_chain["coordinator"]
    there = chain.seal_of(coordinator, sealed.epoch)
    assert there is not None and there.root.hex() == sealed.root == on_chain["seal"]["chain_root"]
    assert there.differences(sealed) == []

    # the cheater's slash was proposed with the close's evidence digest and executed
    # once the window had passed: its stake on chain is less by the slash
    slash = on_chain["slash"]
    mal = key32(cheater["id"])
    (record,) = chain.slashes_against(mal)
    assert (record.id, record.coordinator, record.state) == (slash["id"], coordinator, "executed")
    assert chain.slash_id_of(coordinator, bytes.fromhex(slash["evidence"])) == record.id
    assert record.epoch == sealed.epoch and record.amount == slash["amount"] > 0
    assert chain.stake_of(mal).locked == STAKE - record.amount == slash["after"]
    assert slash["before"] == STAKE

    # the demo's verification and one of our own, against the chain, both pass
    assert on_chain["verify"]["ok"] and on_chain["verify"]["chain"]["ok"]
    args = ["ledger", "verify", str(demo.out / "ledger.jsonl"), "--chain", on_chain["rpc_url"]]
    verified = subprocess.run(
        [sys.executable, "-m", "swarmgen.cli.main", *args, "--contract", on_chain["contract"]],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout.splitlines()[-1])["chain"]["checked"] == 1


def test_ctrl_c_stops_the_node_with_the_swarm(demo: Demo) -> None:
    rpc_url = demo.summary["chain"]["rpc_url"]
    connect(rpc_url)  # up while the demo serves
    demo.proc.send_signal(signal.SIGINT)
    assert demo.proc.wait(60) == 0
    with pytest.raises(ChainError):
        connect(rpc_url, timeout_s=2)
    with pytest.raises(httpx.TransportError):
        httpx.get(demo.url + "healthz", timeout=2)
