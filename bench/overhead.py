"""Network overhead: images/s through coordinator + one worker vs the same pipeline in-process.

Both sides run the offline image model on the CPU with the same settings (steps, size,
batch, torch threads). Direct: one process loads the backend and runs the jobs in
batches. Network: a coordinator and one worker process on loopback; all jobs are
submitted over HTTP at once and the clock stops when the last result is seen. The worker
gets the same torch threads as the direct run; the coordinator and the requester share
what is left of the machine.

    python bench/overhead.py --images 64 --threads 1 --batch 4 --repeat 3

Direct and network runs alternate ``--repeat`` times and the medians are compared, so a
busy moment on the machine does not land on one side only. Prints a table, then one JSON
line: {"ratio", "direct_images_per_s", "network_images_per_s", ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from swarmgen.core.jobs import ImageSpec, Job
from swarmgen.core.offerings import Offering
from swarmgen.localnet import LocalNetwork
from swarmgen.registry import load_registry
from swarmgen.sdk.client import Client, image_job

PROMPTS = (
    "a red circle on a white background",
    "a small blue square above a yellow triangle on a black background",
    "a green star on a gray background",
    "a large purple triangle on a white background",
)


def prompts(count: int) -> list[str]:
    return [f"{PROMPTS[i % len(PROMPTS)]}" for i in range(count)]


@dataclass(frozen=True)
class Setup:
    """What both sides run: the same model, jobs, batch size and torch threads."""

    model: str
    count: int
    steps: int
    batch: int
    threads: int
    cache: Path


def run_direct(setup: Setup) -> float:
    from swarmgen.backends.factory import make_backend

    model, count, steps, batch = setup.model, setup.count, setup.steps, setup.batch
    offering = Offering.parse(model)
    backend = make_backend(
        load_registry().entry(offering), offering, cache_dir=setup.cache, threads=setup.threads
    )
    backend.load()
    jobs = [
        Job(f"direct-{i}", offering, ImageSpec(prompt=p, steps=steps, seed=i))
        for i, p in enumerate(prompts(count))
    ]
    backend.run(jobs[:batch])  # warm-up, like the worker's first batch
    started = time.perf_counter()
    for i in range(0, count, batch):
        backend.run(jobs[i : i + batch])
    return time.perf_counter() - started


def run_network(setup: Setup) -> float:
    model, count, steps, batch = setup.model, setup.count, setup.steps, setup.batch
    with tempfile.TemporaryDirectory() as tmp, LocalNetwork(Path(tmp)) as net:
        key = net.create_key("bench")
        net.grant("bench", 10**12)
        net.start_coordinator()
        net.start_worker(
            "w", [model], "--threads", str(setup.threads), "--max-batch", str(batch),
            env={"SWARMGEN_CACHE": str(setup.cache)},
        )  # fmt: skip
        with Client(net.url, key) as client:
            warm = [client.submit(image_job(p, model, steps=steps))["id"] for p in prompts(batch)]
            for job_id in warm:  # the worker has loaded its model once these are done
                client.wait(job_id)
            started = time.perf_counter()
            ids = [
                client.submit(image_job(p, model, steps=steps, seed=i))["id"]
                for i, p in enumerate(prompts(count))
            ]
            states = {client.wait(job_id)["state"] for job_id in ids}
            seconds = time.perf_counter() - started
        if states != {"completed"}:
            raise RuntimeError(f"jobs ended {states}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="shapes-64@fp32", help="image offering")
    parser.add_argument("--images", type=int, default=64, help="images per side")
    parser.add_argument("--steps", type=int, default=20, help="denoising steps")
    parser.add_argument("--batch", type=int, default=4, help="batch size (worker max batch)")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs; medians")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on both sides")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "swarmgen-cache"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    setup = Setup(args.model, args.images, args.steps, args.batch, args.threads, args.cache)
    directs, networks = [], []
    for _ in range(args.repeat):  # alternate, so a busy spell on the machine hits both sides
        directs.append(run_direct(setup))
        networks.append(run_network(setup))
    direct, network = statistics.median(directs), statistics.median(networks)
    figures = {
        "model": args.model,
        "images": args.images,
        "steps": args.steps,
        "batch": args.batch,
        "threads": args.threads,
        "repeat": args.repeat,
        "direct_images_per_s": round(args.images / direct, 2),
        "network_images_per_s": round(args.images / network, 2),
        "ratio": round(direct / network, 3),
    }
    print("overhead: the same jobs run in-process vs through coordinator + worker over HTTP")
    for name, value in figures.items():
        print(f"  {name:<22} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
