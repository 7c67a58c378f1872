"""``swarmgen demo --serve`` on the echo models: the cheater is caught and the swarm stays up.

One run (the real CLI in a subprocess: coordinator, three honest workers, the cheating
worker) serves both tests: what it wrote while it serves, then Ctrl-C. Everything the
demo claims is checked against the ledger export it wrote, read here independently.
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

from swarmgen.core import accounts
from swarmgen.core.audit import load_export
from swarmgen.core.ledger import EntryKind
from swarmgen.demo.run import IMAGE_PROMPTS, TEXT_PROMPTS

IMAGES = 8
TEXTS = 2
READY_S = 300
SERVING = re.compile(r"serving (http://127\.0\.0\.1:\d+/) until Ctrl-C")
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    out: Path
    url: str
    lines: list[str]


def _read(proc: subprocess.Popen[str], into: queue.Queue[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        into.put(line)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    out = tmp_path_factory.mktemp("demo") / "out"
    args = ["--out", str(out), "--image-model", "echo-image@fp32"]
    args += ["--text-model", "echo-text@fp32", "--images", str(IMAGES), "--texts", str(TEXTS)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmgen.cli.main", "demo", *args, "--serve"],
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
            proc.terminate()  # the demo stops its swarm on SIGTERM
        try:
            proc.wait(60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        reader.join(10)
        assert proc.stdout is not None
        proc.stdout.close()


def _summary(demo: Demo) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((demo.out / "summary.json").read_text())
    return data


def test_the_cheater_is_caught_the_requester_refunded_and_the_ledger_verifies(
    demo: Demo,
) -> None:
    summary = _summary(demo)
    text = "".join(demo.lines)
    assert summary["dashboard"] == demo.url
    assert f"dashboard: {demo.url}" in text
    assert "INVALID" in text and "verifies" in text

    # every output kept, with its prompt
    jobs = summary["jobs"]
    assert [j["kind"] for j in jobs] == ["image"] * IMAGES + ["text"] * TEXTS
    assert [j["prompt"] for j in jobs] == [*IMAGE_PROMPTS[:IMAGES], *TEXT_PROMPTS[:TEXTS]]
    for job in jobs:
        assert job["status"] == "completed"
        content = (demo.out / job["file"]).read_bytes()
        assert content.startswith(PNG) if job["kind"] == "image" else content.strip()

    # the export on disk verifies with the CLI, on its own
    export = demo.out / "ledger.jsonl"
    verified = subprocess.run(
        [sys.executable, "-m", "swarmgen.cli.main", "ledger", "verify", str(export)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["seals"] >= 1
    entries = [
        e
        for e in load_export(export.read_text().splitlines(True)).entries
        if e.epoch == summary["epoch"]
    ]

    # the cheater alone is invalid, on its failed checks
    workers = {w["name"]: w for w in summary["workers"]}
    cheater = workers.pop("mal")
    assert cheater["cheats"] and cheater["epoch"]["invalid"]
    assert cheater["epoch"]["failures"] >= 4
    assert not any(w["cheats"] or w["epoch"]["invalid"] for w in workers.values())
    assert all(w["epoch"]["failures"] == 0 for w in workers.values())
    verdicts = {
        accounts.account_id(e.posting.debit): e.posting.memo["invalid"]
        for e in entries
        if e.posting.kind is EntryKind.VERDICT
    }
    assert verdicts == {w["id"]: int(w["epoch"]["invalid"]) for w in summary["workers"]}

    # its jobs' earnings went back to the requester, everyone else's were paid
    by_cheater = {j["id"] for j in jobs if j["worker"] == "mal"}
    assert by_cheater, "the cheater ran none of the jobs"
    assert {j["payment"] for j in jobs if j["id"] in by_cheater} == {"forfeited"}
    assert {j["payment"] for j in jobs if j["id"] not in by_cheater} == {"paid"}
    forfeits = {
        e.posting.job_id: e.posting.amount for e in entries if e.posting.kind is EntryKind.FORFEIT
    }
    assert {r["job_id"]: r["amount"] for r in summary["refunds"]} == forfeits
    assert set(forfeits) == by_cheater
    requester = summary["requester"]
    assert requester["spent"] == sum(j["price"] for j in jobs)
    assert requester["refunded"] == sum(forfeits.values()) > 0
    assert requester["balance"] == requester["welcome"] - requester["spent"] + sum(
        forfeits.values()
    )

    # the cheater's owner is paid nothing and loses stake; the honest owners are paid
    assert cheater["epoch"]["paid"] == 0 and cheater["epoch"]["slashed"] > 0
    assert cheater["epoch"]["forfeited"] == sum(forfeits.values())
    for worker in workers.values():
        epoch = worker["epoch"]
        assert epoch["paid"] == epoch["released"] + epoch["rewards"] + epoch["emission"] > 0
        assert epoch["forfeited"] == epoch["slashed"] == 0


def test_serve_answers_until_ctrl_c(demo: Demo) -> None:
    stats = httpx.get(demo.url + "api/v1/stats", timeout=10)
    assert stats.status_code == 200
    assert stats.json()["last_sealed"] == _summary(demo)["epoch"]
    assert httpx.get(demo.url, timeout=10).status_code < 500
    time.sleep(2)
    assert demo.proc.poll() is None  # still serving

    demo.proc.send_signal(signal.SIGINT)
    assert demo.proc.wait(60) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(demo.url + "healthz", timeout=2)
