"""Options and helpers shared by the commands."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.logging import RichHandler

if TYPE_CHECKING:
    from swarmgen.coordinator.admin import Admin

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        envvar="SWARMGEN_DATA",
        help="Data folder (database, blobs, keys). Default ./swarmgen-data.",
        show_default=False,
    ),
]


DatabaseOption = Annotated[
    str | None,
    typer.Option(
        envvar="SWARMGEN_DATABASE_URL",
        help="SQLAlchemy URL, e.g. postgresql://host/db. Default SQLite in DATA.",
        show_default=False,
    ),
]


@contextlib.contextmanager
def admin_for(data: Path | None, database_url: str | None) -> Iterator[Admin]:
    """Administrative access to the coordinator's database (migrated first), for the
    block: its store is disposed of as the block ends, so a SQLite log is checkpointed
    and no PostgreSQL connection is left for the garbage collector to find open."""
    from swarmgen.coordinator.admin import Admin
    from swarmgen.coordinator.settings import CoordinatorSettings

    admin = Admin.open(CoordinatorSettings(**given(data=data, database_url=database_url)))
    try:
        yield admin
    finally:
        admin.store.dispose()


def given(**options: Any) -> dict[str, Any]:
    """Only the options the user set, so settings fall back to env vars and defaults."""
    return {name: value for name, value in options.items() if value is not None}


def setup_logging(verbose: bool = False, *, plain: bool = False) -> None:
    """Log at INFO (DEBUG with ``verbose``): through rich for a person at a terminal, or
    ``plain`` one line per record for a server, whose job lines (``job leased
    worker_id=... job_ids=...``) rich would spend more time rendering than dispatch takes."""
    handler: logging.Handler = (
        logging.StreamHandler() if plain else RichHandler(show_path=False, rich_tracebacks=True)
    )
    if plain:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[handler],
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise


P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print a swarmgen error as ``error [code]: message`` and exit 2, without a traceback."""
    from swarmgen.errors import SwarmgenError

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except SwarmgenError as exc:
            typer.echo(f"error [{exc.code}]: {exc.message}", err=True)
            raise typer.Exit(2) from None

    return run
