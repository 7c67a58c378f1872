"""The demo's run: a local swarm with one cheater, one epoch from the first job to its seal.

1. A coordinator and ``honest`` workers of as many owners, plus one worker of another
   owner that cheats (the tools' cheating worker), each staked through the real API.
   New workers have no reputation, so every job they complete is checked by a panel of
   three workers of other owners, drawn by stake (decision 0014): three honest owners
   besides the cheater are what lets every panel sit. The demo's panels are one stage of
   three (:data:`STAGES`), decided by its majority: a network this small cannot seat the
   five or seven of a grown panel, and a panel left undecided would only settle (or be
   abandoned) at the close after the next.
2. Image and text jobs go in through the SDK; outputs are written to the output folder.
   Should the cheater have run none of the jobs it cheats on, a few more of that kind
   follow (:data:`EXTRA_ROUNDS`), so that there is a cheat to catch.
3. The demo waits until no validation seat is in play, then closes the epoch as an
   operator would (``swarmgen ledger close --force``): the verdicts are recorded, the
   invalid owner's earnings go back to the requesters and its stake is slashed, everyone
   else is paid.
4. The ledger is exported and verified against the coordinator's published key; the
   verdicts, refunds and earnings shown are read from that export.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from swarmgen.coordinator.admin import Admin, CheckProgress
from swarmgen.coordinator.auditing import export
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.audit import VerifyReport, load_export, verify_export_bytes
from swarmgen.demo import tables
from swarmgen.demo.story import Refund, WorkerEpoch, epoch_entries, refunds, worker_epoch
from swarmgen.errors import Conflict
from swarmgen.localnet import LocalNetwork
from swarmgen.sdk.client import Client, image_job, text_job
from swarmgen.tools.cheats import Cheat

if TYPE_CHECKING:
    from swarmgen.demo.chain import ChainReport, DemoChain

IMAGE_PROMPTS = (
    "a large red circle on a white background",
    "a small blue square above a yellow triangle on a black background",
    "a green star on a gray background",
    "a yellow circle left of a purple square on a white background",
    "a large orange triangle on a blue background",
    "a small white star below a red circle on a green background",
    "a purple circle on a yellow background",
    "a small green square right of a blue circle on a white background",
    "a large blue star on a black background",
    "a red triangle above a white square on a gray background",
    "a small yellow star on a purple background",
    "a large white circle on a red background",
)
TEXT_PROMPTS = (
    "Name three primary colours.",
    "Write one sentence about a red circle.",
    "What is 2 + 3? Answer with a number.",
)
HONEST = ("ann", "bob", "cy", "dee", "eve", "fay")
CHEATER = "mal"
REQUESTER = "demo"
MARKER = ".swarmgen-demo"
"""Marks a data folder as a demo's, which the next run may clear."""
CACHE = "cache"
"""The workers' model cache in the data folder, kept from run to run."""
STAGES = (3,)
"""The demo's panel stages (see the module docstring)."""
EXTRA_ROUNDS = 5
"""Rounds of more jobs the requester submits while the cheater has run none of the kind
it cheats on: on a fast model, which worker asks first is a race it can lose."""
QUIET_S = 3.0
"""Seconds with no seat in play before the epoch is closed: the reaper draws waiting
seats every second, so three quiet seconds mean nobody can take one."""


@dataclass(frozen=True)
class DemoSettings:
    """What the demo runs; the defaults are what ``make demo`` shows."""

    image_model: str = "shapes-64@fp32"
    text_model: str = "smollm2-135m@fp32"
    honest: int = 3
    cheat: str = "noise"
    cheat_rate: float = 1.0
    images: int = 12
    texts: int = 3
    steps: int = 20
    max_tokens: int = 48
    epoch_s: int = 3600
    """The coordinator's epoch length; the demo closes its first epoch itself."""
    lease_min_s: int = 120
    """The coordinator's shortest lease: CPU workers on a machine busy with other work
    are slow, and a lease holds at most three of these (with heartbeats)."""
    timeout_s: float = 900
    """Longest wait for the workers, the jobs and then the checks, each."""
    worker_args: tuple[str, ...] = ("--threads", "1")


@dataclass(frozen=True)
class DemoWorker:
    name: str
    owner: str
    id: str
    cheats: bool
    behaviour: str


@dataclass(frozen=True)
class DemoRecord:
    """One job of ``summary.json``."""

    id: str
    kind: str
    model: str
    prompt: str
    worker: str | None
    seconds: float | None
    status: str
    price: int
    payment: str | None
    file: str | None


@dataclass
class DemoReport:
    """Everything the demo showed, as written to ``summary.json``."""

    url: str
    epoch: int
    workers: list[DemoWorker]
    records: list[DemoRecord]
    verdicts: dict[str, WorkerEpoch] = field(default_factory=dict)
    refunds: list[Refund] = field(default_factory=list)
    requester: dict[str, int] = field(default_factory=dict)
    ledger: VerifyReport | None = None
    chain: ChainReport | None = None

    @property
    def dashboard(self) -> str:
        return f"{self.url}/"

    def to_json(self) -> dict[str, Any]:
        return {
            "coordinator": self.url,
            "dashboard": self.dashboard,
            "epoch": self.epoch,
            "jobs": [asdict(r) for r in self.records],
            "workers": [
                {
                    **asdict(w),
                    **({"epoch": asdict(self.verdicts[w.id])} if w.id in self.verdicts else {}),
                }
                for w in self.workers
            ],
            "refunds": [asdict(r) for r in self.refunds],
            "requester": self.requester,
            "ledger": {"file": "ledger.jsonl", **asdict(self.ledger)} if self.ledger else None,
            **({"chain": asdict(self.chain)} if self.chain else {}),
        }


def run_demo(
    out: Path,
    settings: DemoSettings = DemoSettings(),
    *,
    console: Console | None = None,
    serve: Callable[[DemoReport], None] | None = None,
    chain: DemoChain | None = None,
) -> DemoReport:
    """Run the demo into ``out``; with ``serve``, call it (while the swarm still runs)
    once everything is written, and stop the swarm when it returns. With ``chain``
    (:mod:`swarmgen.demo.chain`) the stake, the seal and the slash are on its node."""
    console = console or Console()
    data = _fresh(out)
    coordinator = CoordinatorSettings(
        data=data, epoch_length_s=settings.epoch_s, panel_stages=STAGES
    )
    env = {
        "SWARMGEN_EPOCH_LENGTH_S": str(settings.epoch_s),
        "SWARMGEN_PANEL_STAGES": json.dumps(list(STAGES)),
    }
    if chain is not None:  # before the first epoch opens: its draw reads this stake
        env |= chain.join(coordinator, _names(settings), console)
    net = (
        chain.network(data, settings.lease_min_s)
        if chain is not None
        else LocalNetwork(data, lease_min_s=settings.lease_min_s)
    )
    with net:
        key = net.create_key(REQUESTER)
        net.start_coordinator(env=env)
        admin = Admin.open(coordinator, chain.settings if chain is not None else None)
        try:
            tables.step(console, 1, f"the swarm: a coordinator on {net.url}, data in {data}")
            workers = _start_workers(net, settings, console)
            console.print(tables.swarm(workers, net.stake))
            with Client(net.url, key) as client:
                epoch = client.balance()["epoch"]
                report = DemoReport(net.url, epoch, workers, [])
                tables.step(console, 2, "jobs: a requester submits image and text jobs")
                report.records = _run_jobs(client, out, settings, workers, console)
                console.print(tables.jobs(report.records))
                tables.step(
                    console, 3, "checks: panels of other owners re-run the new workers' jobs"
                )
                progress = _settle(admin, settings.timeout_s, console)
                tables.step(console, 4, f"epoch {epoch} closes: verdicts, refunds, payouts, seal")
                seal = admin.epochs.close_due(force=True)
                assert seal is not None  # forced
                if seal.epoch != epoch:
                    console.print(
                        f"[yellow]epoch {epoch} closed on time while the jobs ran: "
                        f"the tables show epoch {seal.epoch} only"
                    )
                report.epoch = seal.epoch
                console.print(tables.seal(seal, progress))
                _tell(report, admin, client, out, console=console)
                if chain is not None:
                    report.chain = chain.tell(report, seal, admin, out, console)
            (out / "summary.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
            tables.step(console, 8 if chain is None else 9, "look around")
            console.print(tables.links(report, out))
            if serve is not None:
                serve(report)
        finally:
            admin.store.dispose()
    return report


def _fresh(out: Path) -> Path:
    """A new network's data folder under ``out``, clearing an earlier demo's (its model
    cache stays); refuses a data folder no demo made."""
    data = out / "data"
    marker = data / MARKER
    if data.exists() and any(data.iterdir()) and not marker.exists():
        raise Conflict(f"{data} holds data no demo wrote; choose another --out", path=str(data))
    if marker.exists():
        for path in data.iterdir():
            if path.name != CACHE:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        for pattern in ("[0-9][0-9]-image.png", "[0-9][0-9]-text.txt"):
            for old in out.glob(pattern):
                old.unlink()
    data.mkdir(parents=True, exist_ok=True)
    marker.write_text("a swarmgen demo's network: the next demo run clears it\n")
    return data


def _names(settings: DemoSettings) -> list[str]:
    return [*HONEST[: settings.honest], CHEATER]


def _start_workers(net: LocalNetwork, settings: DemoSettings, console: Console) -> list[DemoWorker]:
    """Start the workers, each under its own owner; the first alone, so the others
    reuse the model files it prepares in the shared cache."""
    models = [settings.image_model, settings.text_model]
    names = _names(settings)
    workers: list[DemoWorker] = []
    started: dict[str, int] = {}
    with console.status("loading models in the worker processes") as status:
        for index, name in enumerate(names):
            cheats = name == CHEATER
            worker_id = net.start_worker(
                name,
                models,
                *settings.worker_args,
                cheat=settings.cheat if cheats else None,
                cheat_rate=settings.cheat_rate,
            )
            started[name] = int(time.time() * 1000)
            behaviour = _cheater(settings) if cheats else "honest"
            workers.append(DemoWorker(name, f"owner-{name}", worker_id, cheats, behaviour))
            if index == 0:
                status.update(f"loading models in worker {name} (first start prepares the cache)")
                net.wait_ready(name, worker_id, started[name], settings.timeout_s)
                status.update("loading models in the other workers")
        for worker in workers:
            net.wait_ready(worker.name, worker.id, started[worker.name], settings.timeout_s)
    return workers


def _cheater(settings: DemoSettings) -> str:
    kinds = " and ".join(sorted(Cheat(settings.cheat).kinds))
    share = "all" if settings.cheat_rate == 1 else f"{settings.cheat_rate:.0%}"
    rest = "" if kinds == "image and text" else ", honest on the others"
    return f"cheats: {settings.cheat} on {share} of its {kinds} jobs{rest}"


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )


def _run_jobs(
    client: Client,
    out: Path,
    settings: DemoSettings,
    workers: list[DemoWorker],
    console: Console,
) -> list[DemoRecord]:
    prompts = [IMAGE_PROMPTS[i % len(IMAGE_PROMPTS)] for i in range(settings.images)]
    texts = [TEXT_PROMPTS[i % len(TEXT_PROMPTS)] for i in range(settings.texts)]
    jobs = [image_job(p, settings.image_model, steps=settings.steps) for p in prompts]
    jobs += [text_job(settings.text_model, prompt=p, max_tokens=settings.max_tokens) for p in texts]
    names = {w.id: w.name for w in workers}
    records: list[DemoRecord] = []
    cheated = {str(kind) for kind in Cheat(settings.cheat).kinds}
    with _progress(console) as progress:
        task = progress.add_task("jobs", total=len(jobs))

        def submit(batch: list[dict[str, Any]]) -> list[DemoRecord]:
            first = len(records)
            return _round(
                client,
                out,
                batch,
                settings=settings,
                names=names,
                first=first,
                progress=progress,
                task=task,
            )

        records += submit(jobs)
        for _ in range(EXTRA_ROUNDS):
            if any(r.worker == CHEATER and r.kind in cheated for r in records):
                break
            more = [job for job in jobs if job["kind"] in cheated][: len(workers)]
            progress.console.print(
                f"[yellow]{CHEATER} ran none of the {' or '.join(sorted(cheated))} jobs it "
                f"cheats on (whichever worker asks first gets a job): {len(more)} more"
            )
            progress.update(task, total=len(records) + len(more))
            records += submit(more)
    return records


def _round(
    client: Client,
    out: Path,
    jobs: list[dict[str, Any]],
    *,
    settings: DemoSettings,
    names: dict[str, str],
    first: int,
    progress: Progress,
    task: TaskID,
) -> list[DemoRecord]:
    """Submit ``jobs`` at once and save each output as it completes, numbered from ``first``."""
    records: list[DemoRecord] = []
    for job, acc in zip(jobs, client.submit_many(jobs), strict=True):
        view = client.wait(acc["id"], timeout=settings.timeout_s)
        records.append(_save(client, out, first + len(records), job=job, view=view, names=names))
        progress.advance(task)
    return records


def _save(
    client: Client,
    out: Path,
    index: int,
    *,
    job: dict[str, Any],
    view: dict[str, Any],
    names: dict[str, str],
) -> DemoRecord:
    kind = job["kind"]
    path = None
    if view["state"] == "completed":
        path = out / (f"{index:02d}-{kind}" + (".png" if kind == "image" else ".txt"))
        path.write_bytes(client.result(view["id"]))
    return DemoRecord(
        id=view["id"],
        kind=kind,
        model=view["model"],
        prompt=job["prompt"],
        worker=names.get(view["worker_id"] or "", view["worker_id"]),
        seconds=view["seconds"],
        status=view["state"],
        price=view["price"],
        payment=view["payment"],
        file=path.name if path else None,
    )


def _settle(admin: Admin, timeout: float, console: Console) -> CheckProgress:
    """Wait until no validation seat is in play (or ``timeout``); the checks' progress."""
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    with console.status("validators at work") as status:
        while True:
            progress = admin.check_progress()
            now = time.monotonic()
            if progress.seats_in_play:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= QUIET_S:
                break
            if now > deadline:
                console.print(f"[yellow]seats still in play after {timeout:.0f} s; closing anyway")
                break
            status.update(
                f"validators at work: {progress.pending} checks pending, "
                f"{progress.seats_in_play} seats in play"
            )
            time.sleep(0.25)
    console.print(
        f"no seat in play: {progress.pending} checks still pending (their panels have no "
        "more eligible owners) carry over to the next close"
    )
    return progress


def _tell(report: DemoReport, admin: Admin, client: Client, out: Path, *, console: Console) -> None:
    """Export and verify the ledger, then read the epoch's story from the export."""
    published_key = httpx.get(f"{report.url}/api/v1/ledger/key", timeout=10).json()["coordinator"]
    raw = "".join(export(admin.store, admin.epochs.keys.public_key)).encode("utf-8")
    (out / "ledger.jsonl").write_bytes(raw)
    report.ledger = verify_export_bytes(raw, published_key)
    entries = epoch_entries(load_export(raw.decode("utf-8").splitlines(True)).entries, report.epoch)
    report.verdicts = {w.id: worker_epoch(entries, w.id) for w in report.workers}
    console.print(tables.verdicts(report.workers, report.verdicts))

    tables.step(console, 5, "refunds: the invalid worker's jobs go back to the requester")
    requester = admin.user(REQUESTER)
    report.refunds = refunds(entries, requester.id)
    views = {r.id: client.status(r.id) for r in report.records}
    report.records = [
        DemoRecord(**{**asdict(r), "payment": views[r.id]["payment"]}) for r in report.records
    ]
    spent = sum(r.price for r in report.records)
    refunded = sum(r.amount for r in report.refunds)
    report.requester = {
        "welcome": admin.settings.welcome_credits,
        "spent": spent,
        "refunded": refunded,
        "balance": client.balance()["balance"],
    }
    console.print(tables.refunds(report.refunds, report.records, report.workers, report.requester))

    tables.step(console, 6, "earnings: what each worker earned and its owner was paid")
    console.print(tables.earnings(report.workers, report.verdicts))

    tables.step(console, 7, "the ledger: exported and verified against the published key")
    console.print(tables.ledger(report.ledger, out / "ledger.jsonl", published_key))
