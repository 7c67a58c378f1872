"""``swarmgen audit``: recompute what the coordinator had to do and check that it did."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from swarmgen.cli.common import DatabaseOption, DataOption, admin_for, reports_errors

audit_app = typer.Typer(
    help="Audit the coordinator's duties from its ledger and database.", no_args_is_help=True
)


@audit_app.command("sampling")
@reports_errors
def sampling(
    epoch: Annotated[int, typer.Argument(help="A closed epoch.", min=0)],
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Recompute EPOCH's sampling draw from its revealed seed and confirm every drawn job
    was checked; prints a JSON summary and exits 1 when the seed does not match its
    commitment or a drawn job went unchecked (2 when the epoch has no revealed seed)."""
    from swarmgen.coordinator.sampling import audit_epoch

    with admin_for(data, database_url) as admin:
        found = audit_epoch(admin.store, epoch)
    typer.echo(json.dumps(found.summary(), sort_keys=True))
    if not found.ok:
        raise typer.Exit(1)
