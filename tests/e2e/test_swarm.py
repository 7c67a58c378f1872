"""A coordinator and two workers as processes: mixed jobs complete, a killed worker's jobs
are picked up by a second worker once their leases expire, and nothing is lost."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from swarmgen.localnet import LocalNetwork
from swarmgen.sdk.client import Client, image_job, text_job

pytestmark = pytest.mark.models

IMAGE = "tiny-sd@fp32"  # the dispatch path, not the model, is under test here
TEXT = "smollm2-135m@fp32"


def wait_until(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(what)


def test_mixed_jobs_survive_a_killed_worker(tmp_path: Path, model_cache: Path) -> None:
    env = {"SWARMGEN_CACHE": str(model_cache)}
    with LocalNetwork(tmp_path / "data", lease_min_s=3) as net:
        key = net.create_key("e2e")
        net.start_coordinator()
        # The survivor starts only once the victim holds a job: started together, the
        # first to load its models could take every job before the other asked for one.
        victim = net.start_worker(
            "w1", [IMAGE, TEXT], "--threads", "1", "--max-batch", "2", env=env
        )
        jobs = []
        for i in range(10):
            jobs.append(image_job(f"a red circle number {i} on a white background", IMAGE))
            jobs.append(text_job(TEXT, prompt=f"Count to {i + 2}.", max_tokens=12))
        with Client(net.url, key) as client:
            ids = [client.submit(job)["id"] for job in jobs]

            def leased_to_victim() -> list[str]:
                views = [client.status(i) for i in ids]
                return [
                    v["id"] for v in views if v["state"] == "leased" and v["worker_id"] == victim
                ]

            def frozen_holding() -> list[str]:
                """Stop the victim while it holds jobs, read once it can no longer submit
                them (a sub-second text job could finish between a read and the kill)."""
                while True:
                    wait_until(leased_to_victim, 240, "the first worker never leased a job")
                    net.procs["w1"].send_signal(signal.SIGSTOP)
                    time.sleep(0.5)  # a submit already sent is answered before the read
                    if held := leased_to_victim():
                        return held
                    net.procs["w1"].send_signal(signal.SIGCONT)

            held = frozen_holding()
            net.stop("w1", signal.SIGKILL)
            survivor = net.start_worker(
                "w2", [IMAGE, TEXT], "--threads", "1", "--max-batch", "2", env=env
            )
            views = {i: client.wait(i, timeout=300) for i in ids}

        assert {v["state"] for v in views.values()} == {"completed"}, views
        # A held job may have been submitted just before the kill; the rest moved over.
        recovered = [j for j in held if views[j]["worker_id"] == survivor]
        assert recovered, (held, views)
        assert {v["worker_id"] for v in views.values()} <= {victim, survivor}
