"""``swarmgen coordinator`` and ``swarmgen worker``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from swarmgen.cli.common import DataOption, given, reports_errors, setup_logging

if TYPE_CHECKING:
    from fastapi import FastAPI

    from swarmgen.coordinator.settings import CoordinatorSettings


@reports_errors
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

    Every other setting is read from its SWARMGEN_* environment variable (see the README);
    with --processes N, each server process gets the settings built here.
    """
    import uvicorn

    from swarmgen.coordinator.app import create_app
    from swarmgen.coordinator.bootstrap import for_processes, prepare
    from swarmgen.coordinator.settings import CoordinatorSettings

    setup_logging(verbose, plain=True)
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
    if processes == 1:
        app = out_of_collection(create_app(settings))
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
        return
    prepare(settings)  # migrate and make the coordinator key once, before the processes race
    shared = for_processes(settings, processes)
    serve_processes(ServerProcess(shared, verbose), settings.host, settings.port, processes)


HEALTHCHECK_S = 30
"""How long a server process of ``--processes N`` may leave its supervisor's health
check unanswered before it is killed and restarted."""


@dataclass(frozen=True)
class ServerProcess:
    """Builds the app inside each server process of ``--processes N``.

    The server's supervisor starts its processes with ``spawn`` and pickles this factory
    into each, settings included, so every process builds its app from the very settings
    the command line was given, with nothing passed through environment variables, and
    logs as the parent does.
    """

    settings: CoordinatorSettings
    verbose: bool = False

    def __call__(self) -> FastAPI:
        from swarmgen.coordinator.app import create_app

        setup_logging(self.verbose, plain=True)
        return out_of_collection(create_app(self.settings))


def out_of_collection(app: FastAPI) -> FastAPI:
    """Keep what building ``app`` made out of the cyclic garbage collector's sight.

    Modules, routes, schemas, the registry: about 150,000 objects that live as long as
    the server. A full collection walked them all, holding every thread for 67–105 ms
    (forced every 5 s in a coordinator serving the light-load bench): a request in
    flight waited that long. Frozen (:func:`gc.freeze`), a full collection walks only
    what serving made since: 3–7 ms in the same run.
    """
    import gc

    gc.collect()
    gc.freeze()
    return app


def serve_processes(factory: Callable[[], Any], host: str, port: int, processes: int) -> None:
    """Serve the app ``factory`` builds from ``processes`` spawned processes on one socket.

    ``uvicorn.run`` takes only an import string for several processes, which leaves the
    environment as the one way to hand them settings. Its supervisor takes any picklable
    factory, so this drives it directly: each process unpickles the factory and builds its
    own app from the settings inside it.
    """
    import inspect

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    # The supervisor kills and restarts a process that does not answer its health check
    # within 5 s by default: a process that is only busy (a slow host, a long close) would
    # lose its requests in flight and, if it led, its periodic work. Allow it longer.
    patience: dict[str, Any] = {"timeout_worker_healthcheck": HEALTHCHECK_S}
    if "timeout_worker_healthcheck" not in inspect.signature(uvicorn.Config).parameters:
        patience = {}  # an older uvicorn checks nothing
    config = uvicorn.Config(
        factory,
        factory=True,
        workers=processes,
        host=host,
        port=port,
        log_level="warning",
        **patience,
    )
    sock = config.bind_socket()
    if "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn takes the target
        server = uvicorn.Server(config)
        Multiprocess(config, target=server.run, sockets=[sock]).run()  # type: ignore[call-arg]
    else:
        Multiprocess(config, sockets=[sock]).run()


def worker(
    model: Annotated[
        list[str],
        typer.Option(
            help="Offering to serve, name@precision, or a model name (its best tier that fits "
            "--memory); repeat for several."
        ),
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
    stake: Annotated[
        int | None,
        typer.Option(help="Micro-credits of the owner's to keep locked behind this worker."),
    ] = None,
    threads: Annotated[int | None, typer.Option(help="torch threads. Default 2.")] = None,
    max_batch: Annotated[int | None, typer.Option(help="Most jobs per pop. Default 4.")] = None,
    max_pixels: Annotated[
        int | None, typer.Option(help="Largest image, width x height. Default 262144.")
    ] = None,
    pop_wait_s: Annotated[
        float | None, typer.Option(help="Long-poll length of a pop in seconds. Default 50.")
    ] = None,
    memory: Annotated[
        str | None,
        typer.Option(
            help="Memory for models, e.g. 1GB or 512MiB: serve only the tiers whose measured "
            "footprint fits, and declare it to the coordinator. Default: not declared."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run a worker: serve jobs for MODEL until SIGTERM/SIGINT, then hand back held jobs."""
    from pydantic import ValidationError

    from swarmgen.worker.factory import NothingFits, build_worker
    from swarmgen.worker.settings import WorkerSettings

    setup_logging(verbose)
    try:
        settings = WorkerSettings(
            **given(
                models=model,
                coordinator_url=coordinator,
                data=data,
                name=name,
                owner_key=owner_key,
                stake=stake,
                threads=threads,
                max_batch=max_batch,
                max_pixels=max_pixels,
                pop_wait_s=pop_wait_s,
                memory=memory,
            )
        )
        daemon = build_worker(settings)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise typer.BadParameter(f"{where}: {problem['msg']}") from None
    except (NothingFits, KeyError, ValueError) as exc:
        reason = f"unknown offering {exc.args[0]}" if isinstance(exc, KeyError) else str(exc)
        raise typer.BadParameter(reason) from None
    daemon.install_signal_handlers()
    daemon.run()
