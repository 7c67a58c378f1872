"""``swarmgen keys``: requester API keys (an administrator's command, run on the DB)."""

from __future__ import annotations

from typing import Annotated

import typer

from swarmgen.cli.common import DataOption, given

keys_app = typer.Typer(help="Create requester API keys.", no_args_is_help=True)


@keys_app.command("create")
def create(
    user: Annotated[str, typer.Option(help="User name; created when missing.")],
    role: Annotated[str, typer.Option(help="admin, user or anonymous.")] = "user",
    data: DataOption = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL.")] = None,
) -> None:
    """Make an API key for USER and print it once (only its hash is stored)."""
    from swarmgen.clock import SystemClock
    from swarmgen.coordinator.admin import create_key, open_store
    from swarmgen.coordinator.settings import CoordinatorSettings

    settings = CoordinatorSettings(**given(data=data, database_url=database_url))
    key = create_key(open_store(settings), SystemClock(), user, role)
    print(key.key)
