"""``swarmgen bench quality MODEL``: every tier of a model against fp32."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swarmgen.cli.common import reports_errors, setup_logging

bench_app = typer.Typer(help="Measure the network's models on this machine.", no_args_is_help=True)


@bench_app.callback()
def bench() -> None:
    """Benchmarks of this machine's models (``quality``)."""


@bench_app.command("quality")
@reports_errors
def quality(
    model: Annotated[str, typer.Argument(help="Model name, e.g. shapes-64 or smollm2-135m.")],
    tiers: Annotated[
        str, typer.Option(help="Comma-separated tiers to compare with fp32.")
    ] = "fp16,bf16,int8,int4",
    cache: Annotated[Path, typer.Option(help="Folder for built and converted models.")] = Path(
        "./swarmgen-data/cache"
    ),
    threads: Annotated[int, typer.Option(min=1, help="torch threads of every tier.")] = 1,
    images: Annotated[
        int, typer.Option(min=1, help="Held-out prompts (images) or questions (text, up to 8).")
    ] = 32,
    reference: Annotated[
        Path | None,
        typer.Option(help="A saved fp32 run (a tier process's JSON) to compare with."),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write the plot PNG here (default: none).")
    ] = None,
    write: Annotated[
        bool,
        typer.Option(help="Store each tier's footprint (peak RSS) and quality in the registry."),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Weight bytes, peak RSS, speed and quality against fp32 for each tier; last line JSON."""
    import json
    import os

    from swarmgen.core.offerings import Offering
    from swarmgen.tools.quality import as_json, registry_figures, render_header, render_row, run
    from swarmgen.tools.quality import plot as draw

    setup_logging(verbose)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    chosen = [t.strip() for t in tiers.split(",") if t.strip()]
    typer.echo(render_header(model))
    reports = run(
        model,
        chosen,
        cache=cache,
        threads=threads,
        images=images,
        reference=reference,
        on_tier=lambda r: typer.echo(render_row(r)),
    )
    if plot is not None:
        draw(reports, plot, model)
        typer.echo(f"plot: {plot}")
    if write:
        from swarmgen.registry_edit import set_tier_figures, shipped_registry

        for report in reports:
            parsed = Offering.parse(report.offering)
            figures = registry_figures(report)
            set_tier_figures(shipped_registry(), parsed, report.peak_rss, figures)
        typer.echo(f"stored footprints and quality in {shipped_registry()}")
    typer.echo(json.dumps({"model": model, "threads": threads, "tiers": as_json(reports)}))
