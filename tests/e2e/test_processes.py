"""A coordinator running as several server processes on one SQLite database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from swarmgen.localnet import LocalNetwork
from swarmgen.sdk.client import Client, image_job, text_job

MODELS = ["echo-image@fp32", "echo-text@fp32"]


def test_two_server_processes_share_the_queue_and_the_ledger(tmp_path: Path) -> None:
    with LocalNetwork(tmp_path / "data") as net:
        key = net.create_key("multi")
        net.start_coordinator(processes=2)
        net.start_worker("w1", MODELS, "--max-batch", "8")
        net.start_worker("w2", MODELS, "--max-batch", "8")
        with Client(net.url, key) as client:
            jobs = [image_job(f"a red circle {i}", MODELS[0]) for i in range(30)]
            jobs += [text_job(MODELS[1], prompt=f"count {i}") for i in range(30)]
            accepted = client.submit_many(jobs[:40]) + [client.submit(j) for j in jobs[40:]]
            views = [client.wait(a["id"], timeout=120) for a in accepted]
            assert {v["state"] for v in views} == {"completed"}
            assert len({a["id"] for a in accepted}) == 60
            entries = client.entries(limit=500)["entries"]
        # one reservation per job, and a chain that still verifies across both processes
        assert sum(1 for e in entries if e["kind"] == "reserve") == 60
        verify = [sys.executable, "-m", "swarmgen.cli.main", "ledger", "verify", "--data"]
        checked = subprocess.run(
            [*verify, str(net.data)], check=False, capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        # the periodic tasks ran in one process only: one leader, which took the SQLite
        # lock. Read while both still serve: as they stop, the one still running may take
        # the lock the other let go (as it should when a leader dies), which one CI run's
        # log showed as a second leader in its last line.
        log = (net.data / "logs" / "coordinator.log").read_text()
        assert log.count("leading the periodic tasks") == 1, log
