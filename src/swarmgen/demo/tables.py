"""The demo's output: one short table per step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from swarmgen.core.audit import VerifyReport
from swarmgen.core.seal import EpochSeal
from swarmgen.demo.story import Refund, WorkerEpoch

if TYPE_CHECKING:
    from swarmgen.coordinator.admin import CheckProgress
    from swarmgen.demo.run import DemoRecord, DemoReport, DemoWorker

CREDIT = 1_000_000


def credits(micro: int) -> str:
    """Micro-credits as credits, to the micro-credit."""
    return f"{micro / CREDIT:,.6f}".rstrip("0").rstrip(".") if micro else "0"


def _short(prompt: str, width: int = 40) -> str:
    return prompt if len(prompt) <= width else prompt[: width - 1] + "…"


def step(console: Console, number: int, title: str) -> None:
    console.print()
    console.rule(f"[bold]{number}. {title}", align="left")


def _table(*columns: str, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def swarm(workers: Sequence[DemoWorker], stake: int) -> Table:
    table = _table("worker", "owner", "id", "stake", "behaviour")
    for w in workers:
        style = "red" if w.cheats else ""
        table.add_row(w.name, w.owner, w.id[:12], credits(stake), Text(w.behaviour, style=style))
    return table


def jobs(records: Sequence[DemoRecord]) -> Table:
    table = _table("job", "kind", "prompt", "worker", "seconds", "status", "file")
    for r in records:
        seconds = f"{r.seconds:.1f}" if r.seconds is not None else "-"
        prompt = _short(r.prompt)
        table.add_row(r.id[:8], r.kind, prompt, r.worker or "-", seconds, r.status, r.file or "-")
    return table


def seal(sealed: EpochSeal, progress: CheckProgress) -> Group:
    settled = (
        f"{progress.pending} checks still undecided carry over to the next close"
        if progress.pending
        else "every check had settled before the close"
    )
    return Group(
        Text(f"epoch {sealed.epoch} sealed: {sealed.count} entries under root {sealed.root[:16]}…"),
        Text(f"signed with the coordinator's key; {settled}"),
    )


def verdicts(workers: Sequence[DemoWorker], found: Mapping[str, WorkerEpoch]) -> Group:
    table = _table(
        "worker", "checks", "failed", "p (honest)", "verdict", title="verdicts at the close"
    )
    for w in workers:
        e = found[w.id]
        verdict = Text("INVALID", style="bold red") if e.invalid else Text("valid", style="green")
        table.add_row(w.name, str(e.checks), str(e.failures), e.p_value, verdict)
    return Group(
        table,
        Text(
            "checks: its jobs that panels re-ran plus the seats it sat on others' panels; "
            "failed: its jobs a panel rejected plus its votes against the panel; "
            "p: the chance an honest worker fails that often (invalid at 1e-6 or less)"
        ),
    )


def refunds(
    found: Sequence[Refund],
    records: Sequence[DemoRecord],
    workers: Sequence[DemoWorker],
    requester: Mapping[str, int],
) -> Group:
    prompts = {r.id: r.prompt for r in records}
    names = {w.id: w.name for w in workers}
    table = _table("job", "prompt", "worker", "refunded")
    for r in found:
        prompt = prompts.get(r.job_id, "")
        table.add_row(
            r.job_id[:8],
            _short(prompt),
            names.get(r.worker_id, r.worker_id[:12]),
            credits(r.amount),
        )
    summary = Text(
        f"requester: {credits(requester['welcome'])} welcome credits − "
        f"{credits(requester['spent'])} spent + {credits(requester['refunded'])} refunded = "
        f"{credits(requester['balance'])} (its balance now)"
    )
    if not found:
        return Group(Text("no job was refunded"), summary)
    return Group(table, summary)


def earnings(workers: Sequence[DemoWorker], found: Mapping[str, WorkerEpoch]) -> Group:
    table = _table(
        "worker", "for jobs", "for checks", "emission", "forfeited", "paid to owner", "slashed"
    )
    for w in workers:
        e = found[w.id]
        table.add_row(
            w.name,
            credits(e.released),
            credits(e.rewards),
            credits(e.emission),
            credits(e.forfeited),
            credits(e.paid),
            credits(e.slashed),
        )
    return Group(
        table,
        Text(
            "an invalid worker is paid nothing: its jobs' earnings go back to the requesters "
            "and it loses a share of its stake for the verdict and for each rejected job"
        ),
    )


def ledger(report: VerifyReport, path: Path, key: str) -> Group:
    status = (
        Text("verifies", style="bold green")
        if report.ok
        else Text(f"does NOT verify: {report.error}", style="bold red")
    )
    table = _table("export", "entries", "sealed epochs", "unsealed", "supply", "head")
    table.add_row(
        str(path),
        str(report.entries),
        str(report.seals),
        str(report.unsealed),
        credits(report.supply),
        report.head_hash[:16] + "…",
    )
    return Group(
        table,
        Text.assemble("chain, rules, receipts, roots, seals: ", status),
        Text(f"coordinator key {key}"),
    )


def links(report: DemoReport, out: Path) -> Group:
    return Group(
        Text.assemble("dashboard: ", Text(report.dashboard, style="bold underline")),
        Text(f"outputs and their prompts: {out / 'summary.json'}"),
        Text(f"verify again: swarmgen ledger verify {out / 'ledger.jsonl'}"),
    )
