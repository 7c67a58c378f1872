"""The ledger as auditors see it: export, verification of the live database, proofs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from swarmgen.core.audit import VerifyReport, export_lines, verify_export
from swarmgen.core.ledger import Entry, project
from swarmgen.core.proofs import JobProof, prove_job
from swarmgen.store.port import Store


def entries(store: Store, after_seq: int = -1) -> Iterator[Entry]:
    """Every entry in chain order, one short transaction per page, so an export never
    holds the whole chain in memory nor one transaction open for its whole length."""
    while True:
        with store.transaction() as tx:
            page = tx.ledger.entries_page(after_seq)
        if not page:
            return
        yield from page
        after_seq = page[-1].seq


def export(store: Store, coordinator: str) -> Iterator[str]:
    """The export's lines (JSON lines, each ending in a newline), entries read in pages."""
    with store.transaction() as tx:
        seals = tx.ledger.seals()
    yield from export_lines(entries(store), seals, coordinator)


def projection_matches(store: Store) -> bool:
    """True when the stored balances equal the fold of every entry."""
    folded = {a: v for a, v in project(e.posting for e in entries(store)).items() if v}
    with store.transaction() as tx:
        return folded == tx.ledger.balances()


def verify_live(store: Store, coordinator: str) -> VerifyReport:
    """Verify the database's ledger as an export would be, plus its balance projection.

    Beyond the export's checks (chain, rules, receipts, roots, signatures,
    conservation), the stored balances must equal the fold of the entries.
    """
    report = verify_export(export(store, coordinator), coordinator)
    if report.ok and not projection_matches(store):
        return replace(report, ok=False, error="stored balances differ from the entries")
    return report


def prove(store: Store, job_id: str) -> JobProof:
    """Inclusion proofs of every sealed entry of ``job_id`` (:class:`NotFound` if none)."""
    with store.transaction() as tx:
        epochs = {entry.epoch for entry in tx.ledger.job_entries(job_id)}
        found = [e for epoch in sorted(epochs) for e in tx.ledger.epoch_entries(epoch)]
        seals = [seal for seal in tx.ledger.seals() if seal.epoch in epochs]
    return prove_job(found, seals, job_id)
