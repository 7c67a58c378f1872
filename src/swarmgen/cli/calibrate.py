"""``swarmgen calibrate MODEL@PRECISION``: fit verification thresholds and store them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swarmgen.cli.common import reports_errors, setup_logging


@reports_errors
def calibrate(
    offering: Annotated[
        str, typer.Argument(metavar="MODEL@PRECISION", help="The offering to calibrate.")
    ],
    registry: Annotated[
        Path | None,
        typer.Option(help="Registry TOML to read and update. Default: the shipped one."),
    ] = None,
    cache: Annotated[Path, typer.Option(help="Folder for built and converted models.")] = Path(
        "./swarmgen-data/cache"
    ),
    count: Annotated[int, typer.Option(min=10, help="Jobs per measured condition.")] = 100,
    max_fp: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="False-positive budget per check.")
    ] = 1e-3,
    write: Annotated[
        bool, typer.Option(help="Store the thresholds in the registry (else only print).")
    ] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Measure honest and cheating runs of an offering, fit thresholds, store them."""
    import json
    import os

    from swarmgen.core.offerings import Offering
    from swarmgen.registry_edit import set_thresholds, shipped_registry
    from swarmgen.tools.calibration import calibrate as run

    setup_logging(verbose)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: idle threads sleep
    try:
        parsed = Offering.parse(offering)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="OFFERING") from None
    path = registry or shipped_registry()
    result = run(parsed, registry_path=path, cache_dir=cache, count=count, max_fp=max_fp)
    typer.echo(json.dumps({"offering": offering, **result.table()}, indent=2))
    typer.echo("honest maxima: " + json.dumps(result.honest_max))
    if write:
        set_thresholds(path, parsed, result.table())
        typer.echo(f"stored in {path}")
