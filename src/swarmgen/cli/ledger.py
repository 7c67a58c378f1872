"""``swarmgen ledger``: export, verify, prove and close epochs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from swarmgen.cli.common import DatabaseOption, DataOption, admin_for, reports_errors

ledger_app = typer.Typer(
    help="The auditable ledger: export it, verify it, prove a job is in it.", no_args_is_help=True
)

KeyOption = Annotated[
    str | None,
    typer.Option(
        "--coordinator-key",
        help="Coordinator public key (base64url) the seals must be signed with. "
        "Default: the key the export names.",
        show_default=False,
    ),
]


def _report(report: object, ok: bool) -> None:
    typer.echo(json.dumps(report.__dict__, sort_keys=True))
    if not ok:
        raise typer.Exit(1)


@ledger_app.command("key")
@reports_errors
def key(data: DataOption = None, database_url: DatabaseOption = None) -> None:
    """Print the coordinator's public key (what proofs and exports verify against)."""
    with admin_for(data, database_url) as admin:
        print(admin.epochs.keys.public_key)


@ledger_app.command("export")
@reports_errors
def export(
    file: Annotated[Path, typer.Argument(help="Where to write the JSON-lines export.")],
    published: Annotated[
        bool,
        typer.Option(
            "--published",
            help="Only what the coordinator serves publicly: sealed epochs whose checks "
            "and jobs are over (the default is the operator's whole ledger).",
        ),
    ] = False,
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Write the ledger (entries, then each epoch's signed seal) to FILE.

    The whole ledger includes the open epoch, whose checks must not reach workers:
    share it only with ``--published``.
    """
    from swarmgen.coordinator.auditing import Publication
    from swarmgen.coordinator.auditing import export as export_ledger

    count = 0
    with admin_for(data, database_url) as admin:
        upto = Publication(admin.store).published() if published else None
        with file.open("w", encoding="utf-8", newline="") as out:
            for line in export_ledger(admin.store, admin.epochs.keys.public_key, upto):
                out.write(line)
                count += 1
    typer.echo(f"wrote {count} lines to {file}", err=True)


@ledger_app.command("verify")
@reports_errors
def verify(
    file: Annotated[
        Path | None, typer.Argument(help="An export to verify; omit to verify the database.")
    ] = None,
    coordinator_key: KeyOption = None,
    chain: Annotated[
        str | None,
        typer.Option(
            "--chain",
            help="EVM JSON-RPC URL: also check every sealed epoch against the seals on chain.",
            show_default=False,
        ),
    ] = None,
    contract: Annotated[
        str | None,
        typer.Option("--contract", help="The stake contract's address (with --chain)."),
    ] = None,
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Check chain, rules, receipts, Merkle roots, seal signatures and conservation.

    With ``--chain`` and ``--contract``, an export's seals must also equal those its
    coordinator posted on chain. Prints a JSON report; exits 1 when anything fails.
    """
    from swarmgen.core.audit import verify_export_bytes

    if (chain is None) != (contract is None) or (chain is not None and file is None):
        raise typer.BadParameter("--chain and --contract go together, with an EXPORT file")
    if file is not None:
        raw = file.read_bytes()
        report = verify_export_bytes(raw, coordinator_key)
        if chain is None or contract is None:
            _report(report, report.ok)
            return
        from swarmgen.chain.anchor import check_against_chain
        from swarmgen.chain.evm import EvmChain, connect

        anchored = check_against_chain(raw.splitlines(), EvmChain(connect(chain), contract))
        typer.echo(json.dumps({**report.__dict__, "chain": anchored.__dict__}, sort_keys=True))
        if not (report.ok and anchored.ok):
            raise typer.Exit(1)
        return
    from swarmgen.coordinator.auditing import verify_live

    with admin_for(data, database_url) as admin:
        live = verify_live(admin.store, coordinator_key or admin.epochs.keys.public_key)
    _report(live, live.ok)


@ledger_app.command("prove")
@reports_errors
def prove(
    job_id: Annotated[str, typer.Argument(help="The job whose entries to prove.")],
    out: Annotated[
        Path | None, typer.Option(help="Write the proof here instead of to stdout.")
    ] = None,
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """An inclusion proof of JOB_ID's sealed entries, verifiable offline."""
    from swarmgen.coordinator.auditing import prove as prove_job

    with admin_for(data, database_url) as admin:
        text = json.dumps(prove_job(admin.store, job_id).to_dict(), sort_keys=True)
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")


@ledger_app.command("verify-proof")
@reports_errors
def verify_proof(
    file: Annotated[Path, typer.Argument(help="A proof written by `swarmgen ledger prove`.")],
    coordinator_key: Annotated[
        str, typer.Option("--coordinator-key", help="Coordinator public key (base64url).")
    ],
) -> None:
    """Check a proof offline: entry hash, receipt signature, Merkle path and signed seal."""
    from swarmgen.core.proofs import JobProof

    try:
        proof = JobProof.from_dict(json.loads(file.read_text(encoding="utf-8")))
    except ValueError as exc:
        typer.echo(f"malformed proof: {exc}", err=True)
        raise typer.Exit(1) from None
    if not proof.verify(coordinator_key):
        typer.echo(f"proof of job {proof.job_id} does NOT verify", err=True)
        raise typer.Exit(1)
    print(f"proof of job {proof.job_id} verifies: {len(proof.proofs)} sealed entries")


@ledger_app.command("close")
@reports_errors
def close(
    force: Annotated[
        bool, typer.Option("--force", help="Close even if the epoch has not lasted its length.")
    ] = False,
    data: DataOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Close and seal the open epoch when it is due (a running coordinator does this itself).

    With a chain configured (``SWARMGEN_CHAIN_*``, as the coordinator's), the close is
    owed to it like a periodic one: the seal and the slashes wait in the outbox for
    the coordinator's ``chain-outbox`` task (or ``swarmgen chain post``).
    """
    with admin_for(data, database_url) as admin:
        seal = admin.epochs.close_due(force=force)
    if seal is None:
        typer.echo("the open epoch is not due yet (use --force)", err=True)
        return
    print(json.dumps(seal.to_dict(), sort_keys=True))
    if admin.chain is not None and admin.chain.enabled:
        typer.echo(f"epoch {seal.epoch} is owed to the chain at {admin.chain.rpc_url}", err=True)
