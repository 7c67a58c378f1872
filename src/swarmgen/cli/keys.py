"""``swarmgen users`` and ``swarmgen keys``: accounts and API keys (run on the database)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from swarmgen.cli.common import DatabaseOption, DataOption, admin_for, reports_errors

users_app = typer.Typer(help="Create and list users, set their roles.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, rotate, revoke and list API keys.", no_args_is_help=True)

RoleOption = Annotated[str, typer.Option(help="admin, user or anonymous.")]


def _when(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") if ms else "-"


@users_app.command("create")
@reports_errors
def create_user(
    name: Annotated[str, typer.Argument(help="User name (unique).")],
    role: RoleOption = "user",
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create user NAME (with the configured welcome credits)."""
    with admin_for(data, database_url) as admin:
        user = admin.create_user(name, role)
    print(user.id)


@users_app.command("list")
@reports_errors
def list_users(data: DataOption = None, database_url: DatabaseOption = None) -> None:
    """Every user with their role and balance."""
    table = Table("name", "id", "role", "balance (micro-credits)", "created")
    with admin_for(data, database_url) as admin:
        service = admin.credits
        for user in admin.all_users():
            table.add_row(
                user.name, user.id, user.role, str(service.balance(user)), _when(user.created_ms)
            )
    Console().print(table)


@users_app.command("role")
@reports_errors
def set_role(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Argument(help="admin, user or anonymous.")],
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Give user NAME the role ROLE."""
    with admin_for(data, database_url) as admin:
        user = admin.set_role(name, role)
    print(f"{user.name}: {user.role}")


@keys_app.command("create")
@reports_errors
def create(
    user: Annotated[str, typer.Option(help="User name; created when missing.")],
    role: RoleOption = "user",
    horde: Annotated[
        bool, typer.Option(help="A 22-character key, the shape AI Horde's clients send.")
    ] = False,
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Make an API key for USER and print it once (only its hash is stored)."""
    with admin_for(data, database_url) as admin:
        print(admin.create_key(user, role, horde=horde).key)


@keys_app.command("rotate")
@reports_errors
def rotate(
    user: Annotated[str, typer.Option(help="User name.")],
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Revoke every key of USER and print a new one (once)."""
    with admin_for(data, database_url) as admin:
        print(admin.rotate_key(user).key)


@keys_app.command("revoke")
@reports_errors
def revoke(
    key_id: Annotated[str, typer.Argument(help="Key id, as `swarmgen keys list` shows it.")],
    user: Annotated[str, typer.Option(help="User name.")],
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Revoke one key of USER."""
    with admin_for(data, database_url) as admin:
        admin.revoke_key(user, key_id)
    print(f"revoked {key_id}")


@keys_app.command("list")
@reports_errors
def list_keys(
    user: Annotated[str, typer.Option(help="User name.")],
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """USER's keys: id, prefix, created, revoked (never the keys themselves)."""
    table = Table("id", "prefix", "created", "revoked")
    with admin_for(data, database_url) as admin:
        keys = admin.keys(user)
    for key in keys:
        table.add_row(key.id, key.prefix, _when(key.created_ms), _when(key.revoked_ms))
    Console().print(table)
