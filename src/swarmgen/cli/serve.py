"""``swarmgen coordinator`` and ``swarmgen worker``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from swarmgen.cli.common import DataOption, given, setup_logging


def coordinator(
    data: DataOption = None,
    host: Annotated[str | None, typer.Option(help="Listen address. Default 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port. Default 8787.")] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL, e.g. postgresql://host/db. Default SQLite in DATA."),
    ] = None,
    registry: Annotated[
        Path | None, typer.Option(help="Model registry TOML. Default: the shipped one.")
    ] = None,
    lease_min_s: Annotated[
        int | None, typer.Option(help="Shortest job lease in seconds. Default 15.")
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes sharing the port and the database (one per core).",
        ),
    ] = 1,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run the coordinator HTTP server (migrates the database first).

    Every other setting is read from its SWARMGEN_* environment variable (see the README).
    """
    import uvicorn

    from swarmgen.coordinator.app import create_app
    from swarmgen.coordinator.settings import CoordinatorSettings

    setup_logging(verbose)
    settings = CoordinatorSettings(
        **given(
            data=data,
            host=host,
            port=port,
            database_url=database_url,
            registry=registry,
            lease_min_s=lease_min_s,
        )
    )
    app = create_app(settings)  # migrates the database and makes the coordinator key once
    if processes == 1:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
        return
    # Each server process builds its own app from the same settings, passed as env vars.
    for name, value in settings.model_dump(exclude_unset=True).items():
        os.environ[f"SWARMGEN_{name.upper()}"] = str(value)
    uvicorn.run(
        "swarmgen.coordinator.app:app_from_env",
        factory=True,
        workers=processes,
        host=settings.host,
        port=settings.port,
        log_level="warning",
    )


def worker(
    model: Annotated[
        list[str],
        typer.Option(help="Offering to serve, name@precision; repeat for several."),
    ],
    coordinator: Annotated[
        str | None,
        typer.Option(
            "--coordinator",
            help="Coordinator URL. Default http://127.0.0.1:8787.",
            show_default=False,
        ),
    ] = None,
    data: DataOption = None,
    name: Annotated[
        str | None, typer.Option(help="Worker name; names its key file. Default 'worker'.")
    ] = None,
    owner_key: Annotated[
        str | None,
        typer.Option(envvar="SWARMGEN_API_KEY", help="API key of the user who is paid."),
    ] = None,
    threads: Annotated[int | None, typer.Option(help="torch threads. Default 2.")] = None,
    max_batch: Annotated[int | None, typer.Option(help="Most jobs per pop. Default 4.")] = None,
    max_pixels: Annotated[
        int | None, typer.Option(help="Largest image, width x height. Default 262144.")
    ] = None,
    pop_wait_s: Annotated[
        float | None, typer.Option(help="Long-poll length of a pop in seconds. Default 5.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run a worker: serve jobs for MODEL until SIGTERM/SIGINT, then hand back held jobs."""
    from swarmgen.worker.factory import build_worker
    from swarmgen.worker.settings import WorkerSettings

    setup_logging(verbose)
    settings = WorkerSettings(
        **given(
            models=model,
            coordinator_url=coordinator,
            data=data,
            name=name,
            owner_key=owner_key,
            threads=threads,
            max_batch=max_batch,
            max_pixels=max_pixels,
            pop_wait_s=pop_wait_s,
        )
    )
    daemon = build_worker(settings)
    daemon.install_signal_handlers()
    daemon.run()
