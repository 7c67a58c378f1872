"""``swarmgen demo --serve`` on the echo models: the cheater is caught and the swarm stays up.

One run (the real CLI in a subprocess: coordinator, three honest workers, the cheating
worker) serves both tests: what it wrote while it serves, then Ctrl-C. Everything the
demo claims is checked against the ledger export it wrote, read here independently.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.e2e.demo_process import Demo, served_demo

from swarmgen.core import accounts
from swarmgen.core.audit import load_export
from swarmgen.core.ledger import EntryKind
from swarmgen.demo.run import IMAGE_PROMPTS, TEXT_PROMPTS

IMAGES = 8
TEXTS = 2
READY_S = 300
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    out = tmp_path_factory.mktemp("demo") / "out"
    args = ["--image-model", "echo-image@fp32", "--text-model", "echo-text@fp32"]
    args += ["--images", str(IMAGES), "--texts", str(TEXTS)]
    with served_demo(out, args, READY_S) as served:
        yield served


def test_the_cheater_is_caught_the_requester_refunded_and_the_ledger_verifies(
    demo: Demo,
) -> None:
    summary = demo.summary
    text = "".join(demo.lines)
    assert summary["dashboard"] == demo.url
    assert f"dashboard: {demo.url}" in text
    assert "INVALID" in text and "verifies" in text

    # every output kept, with its prompt
    jobs = summary["jobs"]
    planned, extra = jobs[: IMAGES + TEXTS], jobs[IMAGES + TEXTS :]
    assert [j["kind"] for j in planned] == ["image"] * IMAGES + ["text"] * TEXTS
    assert [j["prompt"] for j in planned] == [*IMAGE_PROMPTS[:IMAGES], *TEXT_PROMPTS[:TEXTS]]
    # rounds of images follow only while the cheater (noise: images) has run none
    assert all(j["kind"] == "image" and j["prompt"] in IMAGE_PROMPTS for j in extra)
    assert not extra or not any(j["worker"] == "mal" and j["kind"] == "image" for j in planned)
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
    assert stats.json()["last_sealed"] == demo.summary["epoch"]
    assert httpx.get(demo.url, timeout=10).status_code < 500
    time.sleep(2)
    assert demo.proc.poll() is None  # still serving

    demo.proc.send_signal(signal.SIGINT)
    assert demo.proc.wait(60) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(demo.url + "healthz", timeout=2)
