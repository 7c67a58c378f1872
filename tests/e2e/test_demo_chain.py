"""``swarmgen demo --chain --serve`` on the echo models: stake, seal and slash on anvil.

One run (the real CLI in a subprocess: anvil, a coordinator, three honest workers and
the cheater) serves both tests. What the demo printed and wrote is checked against the
chain itself, read here with a view of our own while the demo still serves; then
Ctrl-C must stop the node with the swarm.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from swarmgen.chain.evm import EvmChain, connect
from swarmgen.chain.node import anvil_binary
from swarmgen.chain.port import ChainError, key32
from swarmgen.core.audit import load_export
from swarmgen.demo.chain import STAKE

IMAGES = 8
TEXTS = 2
WINDOW_S = 3
READY_S = 360
SERVING = re.compile(r"serving (http://127\.0\.0\.1:\d+/) until Ctrl-C")


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    out: Path
    url: str
    lines: list[str]

    @property
    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out / "summary.json").read_text())
        return data

    @property
    def chain(self) -> EvmChain:
        on_chain = self.summary["chain"]
        return EvmChain(connect(on_chain["rpc_url"]), on_chain["contract"])


def _read(proc: subprocess.Popen[str], into: queue.Queue[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        into.put(line)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if anvil_binary() is None:
        pytest.fail("anvil is missing: run `make install` (npm ci in chain/)")
    out = tmp_path_factory.mktemp("demo-chain") / "out"
    args = ["--out", str(out), "--image-model", "echo-image@fp32", "--text-model"]
    args += ["echo-text@fp32", "--images", str(IMAGES), "--texts", str(TEXTS)]
    args += ["--chain", "--challenge-window-s", str(WINDOW_S), "--serve"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmgen.cli.main", "demo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
        start_new_session=True,  # its own process group, so nothing it started outlives it
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_read, args=(proc, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    deadline = time.monotonic() + READY_S
    url = None
    try:
        while url is None:
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("the demo never served:\n" + "".join(seen))
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
            found = SERVING.search(seen[-1])
            url = found.group(1) if found else None
        yield Demo(proc, out, url, seen)
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        reader.join(10)
        assert proc.stdout is not None
        proc.stdout.close()


def test_stake_seal_and_slash_are_on_chain_and_the_export_verifies_against_it(
    demo: Demo,
) -> None:
    summary, chain = demo.summary, demo.chain
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
