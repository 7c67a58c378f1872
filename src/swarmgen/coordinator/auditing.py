"""The ledger as auditors see it: export, verification of the live database, proofs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from swarmgen.core.audit import VerifyReport, export_lines, verify_export
from swarmgen.core.proofs import JobProof, prove_job
from swarmgen.store.ledger import LedgerStore


def export(ledger: LedgerStore, coordinator: str) -> Iterator[str]:
    """The export's lines (JSON lines, each ending in a newline), entries read in pages."""
    seals = ledger.seals()
    yield from export_lines(ledger.entries(), seals, coordinator)


def verify_live(ledger: LedgerStore, coordinator: str) -> VerifyReport:
    """Verify the database's ledger as an export would be, plus its balance projection.

    Beyond the export's checks (chain, rules, receipts, roots, signatures,
    conservation), the stored balances must equal the fold of the entries.
    """
    report = verify_export(export(ledger, coordinator), coordinator)
    if report.ok and not ledger.projection_matches():
        return replace(report, ok=False, error="stored balances differ from the entries")
    return report


def prove(ledger: LedgerStore, job_id: str) -> JobProof:
    """Inclusion proofs of every sealed entry of ``job_id`` (:class:`NotFound` if none)."""
    epochs = {entry.epoch for entry in ledger.job_entries(job_id)}
    entries = [e for epoch in sorted(epochs) for e in ledger.epoch_entries(epoch)]
    seals = [seal for seal in ledger.seals() if seal.epoch in epochs]
    return prove_job(entries, seals, job_id)
