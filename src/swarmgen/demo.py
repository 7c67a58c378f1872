"""The demo: a local swarm runs a handful of image and text jobs end to end."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from swarmgen.localnet import LocalNetwork
from swarmgen.sdk.client import Client, image_job, text_job

IMAGE_PROMPTS = (
    "a large red circle on a white background",
    "a small blue square above a yellow triangle on a black background",
    "a green star on a gray background",
    "a yellow circle left of a purple square on a white background",
    "a large orange triangle on a blue background",
    "a small white star below a red circle on a green background",
)
TEXT_PROMPTS = (
    "Name three primary colours.",
    "Write one sentence about a red circle.",
    "What is 2 + 3? Answer with a number.",
)


@dataclass(frozen=True)
class DemoRecord:
    """One line of ``summary.json``."""

    id: str
    kind: str
    model: str
    worker: str | None
    seconds: float | None
    status: str
    file: str | None


def run_demo(
    out: Path,
    *,
    image_model: str,
    text_model: str,
    workers: int = 2,
    console: Console | None = None,
) -> list[DemoRecord]:
    """Start a coordinator and ``workers`` workers, run the demo jobs, save the results."""
    console = console or Console()
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    with LocalNetwork(data) as net:
        key = net.create_key("demo")
        console.print(f"coordinator on {net.start_coordinator()} (data in {data})")
        names = {
            net.start_worker(f"worker-{i + 1}", [image_model, text_model], "--threads", "1"): (
                f"worker-{i + 1}"
            )
            for i in range(workers)
        }
        console.print(f"started {workers} workers serving {image_model} and {text_model}")
        jobs = [image_job(p, image_model, steps=20) for p in IMAGE_PROMPTS]
        jobs += [text_job(text_model, prompt=p, max_tokens=48) for p in TEXT_PROMPTS]
        records: list[DemoRecord] = []
        with Client(net.url, key) as client, _progress(console) as progress:
            task = progress.add_task("jobs", total=len(jobs))
            accepted = [client.submit(job) for job in jobs]
            for job, acc in zip(jobs, accepted, strict=True):
                view = client.wait(acc["id"], timeout=600)
                records.append(
                    _save(client, out, len(records), kind=job["kind"], view=view, names=names)
                )
                progress.advance(task)
        (out / "summary.json").write_text(json.dumps([asdict(r) for r in records], indent=2))
    return records


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )


def _save(
    client: Client,
    out: Path,
    index: int,
    *,
    kind: str,
    view: dict[str, Any],
    names: dict[str, str],
) -> DemoRecord:
    path = None
    if view["state"] == "completed":
        path = out / (f"{index:02d}-{kind}" + (".png" if kind == "image" else ".txt"))
        path.write_bytes(client.result(view["id"]))
    return DemoRecord(
        id=view["id"],
        kind=kind,
        model=view["model"],
        worker=names.get(view["worker_id"] or "", view["worker_id"]),
        seconds=view["seconds"],
        status=view["state"],
        file=path.name if path else None,
    )
