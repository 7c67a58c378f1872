"""``swarmgen credits``: grant, balance, transfer and history (run on the database)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from swarmgen.cli.common import DatabaseOption, DataOption, admin_for, reports_errors

credits_app = typer.Typer(
    help="Credits in integer micro-credits (1 credit = 1_000_000).", no_args_is_help=True
)

Amount = Annotated[int, typer.Argument(min=1, help="Micro-credits (1 credit = 1_000_000).")]


@credits_app.command("grant")
@reports_errors
def grant(
    user: Annotated[str, typer.Argument(help="User name.")],
    amount: Amount,
    reason: Annotated[str, typer.Option(help="Recorded in the entry's memo.")] = "grant",
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Mint AMOUNT micro-credits to USER (an administrator's action, recorded in the ledger)."""
    with admin_for(data, database_url) as admin:
        entry = admin.credits.grant(user, amount, reason)
    print(f"entry {entry.seq} {entry.hash}")


@credits_app.command("balance")
@reports_errors
def balance(
    user: Annotated[str, typer.Argument(help="User name.")],
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """USER's spendable balance in micro-credits."""
    with admin_for(data, database_url) as admin:
        print(admin.credits.balance(admin.user(user)))


@credits_app.command("transfer")
@reports_errors
def transfer(
    sender: Annotated[str, typer.Argument(help="User name paying.")],
    recipient: Annotated[str, typer.Argument(help="User name paid.")],
    amount: Amount,
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Move AMOUNT micro-credits from SENDER to RECIPIENT."""
    with admin_for(data, database_url) as admin:
        entry = admin.credits.transfer(admin.user(sender), recipient, amount)
    print(f"entry {entry.seq} {entry.hash}")


@credits_app.command("history")
@reports_errors
def history(
    user: Annotated[str, typer.Argument(help="User name.")],
    limit: Annotated[int, typer.Option(min=1, help="Most entries to show.")] = 50,
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """USER's ledger entries, newest first."""
    with admin_for(data, database_url) as admin:
        entries = admin.credits.entries(admin.user(user), limit)
    table = Table("seq", "epoch", "kind", "from", "to", "amount", "job")
    for entry in entries:
        posting = entry.posting
        table.add_row(
            str(entry.seq),
            str(entry.epoch),
            posting.kind.value,
            posting.debit,
            posting.credit,
            str(posting.amount),
            posting.job_id or "-",
        )
    Console().print(table)
