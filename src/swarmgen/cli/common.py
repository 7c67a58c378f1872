"""Options and helpers shared by the commands."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.logging import RichHandler

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        envvar="SWARMGEN_DATA",
        help="Data folder (database, blobs, keys). Default ./swarmgen-data.",
        show_default=False,
    ),
]


def given(**options: Any) -> dict[str, Any]:
    """Only the options the user set, so settings fall back to env vars and defaults."""
    return {name: value for name, value in options.items() if value is not None}


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(show_path=False, rich_tracebacks=True)],
    )
