"""``swarmgen demo``."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table


def demo(
    out: Annotated[Path, typer.Option(help="Output folder; data lives in OUT/data.")] = Path(
        "demo-out"
    ),
    image_model: Annotated[str, typer.Option(help="Image offering.")] = "shapes-64@fp32",
    text_model: Annotated[str, typer.Option(help="Text offering.")] = "smollm2-135m@fp32",
    workers: Annotated[int, typer.Option(min=1, max=8, help="Worker processes.")] = 2,
) -> None:
    """Run a coordinator and workers locally, submit image and text jobs, save the results."""
    from swarmgen.demo import run_demo

    # SIGTERM unwinds like Ctrl-C, so the local swarm's processes are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    console = Console(width=None if sys.stdout.isatty() else 120)
    records = run_demo(
        out, image_model=image_model, text_model=text_model, workers=workers, console=console
    )
    table = Table(title=f"swarmgen demo: results in {out}")
    for column in ("job", "kind", "model", "worker", "seconds", "status", "file"):
        table.add_column(column)
    for r in records:
        seconds = f"{r.seconds:.2f}" if r.seconds is not None else "-"
        table.add_row(r.id[:8], r.kind, r.model, r.worker or "-", seconds, r.status, r.file or "-")
    console.print(table)
    if any(r.status != "completed" for r in records):
        raise typer.Exit(1)
