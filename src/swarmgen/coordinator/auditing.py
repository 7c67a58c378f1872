"""The ledger as auditors see it: export, verification of the live database, proofs.

What the public may read is narrower than what the database holds. An epoch is
*published* (served by ``/ledger/export`` and ``/ledger/proofs``) only once it is
sealed and nothing recorded in it can still be acted upon: no check opened in it or
before is pending, and every job whose price was reserved in it is final. A worker
that looks its leased job up in the public ledger therefore finds nothing either way:
an ordinary job's reservation is published only after the job is over, and a
validation job (which reserves nothing) is never told apart by a missing entry while
its check could still change. There is no cap: the hold ends by itself, since a pending
check is settled or abandoned at the second close after its own epoch and a job no
worker takes expires (``queue_ttl_s``, refunded) after at most one more lease.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from swarmgen.core.audit import VerifyReport, export_lines, verify_export
from swarmgen.core.ledger import Entry, EntryKind, project
from swarmgen.core.proofs import JobProof, prove_job
from swarmgen.store.port import Store, Transaction


def publishable(
    epoch: int, last_sealed: int, oldest_pending_check: int | None, open_jobs: bool
) -> bool:
    """Whether sealed ``epoch`` may be published (given that every earlier one is).

    ``oldest_pending_check`` is the epoch of the oldest check still pending (``None``
    when none is), ``open_jobs`` whether a job reserved in ``epoch`` is not yet final.
    """
    held_by_check = oldest_pending_check is not None and oldest_pending_check <= epoch
    return epoch <= last_sealed and not held_by_check and not open_jobs


@dataclass
class Publication:
    """The last published epoch, remembered: once published, an epoch stays published.

    While an epoch is held by its open jobs, the ids still open are remembered too, so
    each later look reads only those jobs, not the epoch's entries again.
    """

    store: Store
    _published: int = -1
    _waiting: tuple[int, set[str]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def published(self) -> int:
        """The last epoch the public may read (-1 when none is)."""
        with self._lock, self.store.transaction() as tx:
            self._published = self._advance(tx)
            return self._published

    def _advance(self, tx: Transaction) -> int:
        last_sealed = max((seal.epoch for seal in tx.ledger.seals()), default=-1)
        if last_sealed <= self._published:
            return self._published
        oldest = min((check.epoch for check in tx.validations.pending_checks()), default=None)
        epoch = self._published + 1
        while epoch <= last_sealed:
            if not publishable(epoch, last_sealed, oldest, open_jobs=False):
                break  # a pending check holds it: no need to read its jobs
            if self._open_jobs(tx, epoch):
                break
            epoch += 1
        return epoch - 1

    def _open_jobs(self, tx: Transaction, epoch: int) -> bool:
        """Whether a job whose price was reserved in ``epoch`` is still queued or leased."""
        if self._waiting is not None and self._waiting[0] == epoch:
            ids = self._waiting[1]
        else:
            ids = {
                entry.posting.job_id
                for entry in tx.ledger.epoch_entries(epoch)
                if entry.posting.kind is EntryKind.RESERVE and entry.posting.job_id
            }
        still = {job.id for job in tx.jobs.get_many(ids) if not job.state.final}
        self._waiting = (epoch, still)
        return bool(still)


def entries(store: Store, after_seq: int = -1, upto: int | None = None) -> Iterator[Entry]:
    """Every entry in chain order (up to epoch ``upto`` when given), one short
    transaction per page, so an export never holds the whole chain in memory nor one
    transaction open for its whole length."""
    while True:
        with store.transaction() as tx:
            page = tx.ledger.entries_page(after_seq)
        if not page:
            return
        for entry in page:
            if upto is not None and entry.epoch > upto:
                return
            yield entry
        after_seq = page[-1].seq


def export(store: Store, coordinator: str, upto: int | None = None) -> Iterator[str]:
    """The export's lines (JSON lines, each ending in a newline), entries read in pages.

    With ``upto``, only epochs up to it (and their seals): what :class:`Publication` allows
    (sealed epochs: chained whole). Without, the journal is chained first, so the export
    ends with the last posting made.
    """
    if upto is None:
        store.chain_journal()
    with store.transaction() as tx:
        seals = [s for s in tx.ledger.seals() if upto is None or s.epoch <= upto]
    yield from export_lines(entries(store, upto=upto), seals, coordinator)


def projection_matches(store: Store) -> bool:
    """True when the stored balances equal the fold of every entry (the journal chained
    first; a ledger still moving may differ between the two reads)."""
    store.chain_journal()
    folded = {a: v for a, v in project(e.posting for e in entries(store)).items() if v}
    with store.transaction() as tx:
        return folded == tx.ledger.balances()


def verify_live(store: Store, coordinator: str) -> VerifyReport:
    """Verify the database's whole ledger as an export would be, plus its balance projection.

    Beyond the export's checks (chain, rules, receipts, roots, signatures,
    conservation), the stored balances must equal the fold of the entries.
    """
    report = verify_export(export(store, coordinator), coordinator)
    if report.ok and not projection_matches(store):
        return replace(report, ok=False, error="stored balances differ from the entries")
    return report


def _within(epochs: Iterable[int], upto: int | None) -> list[int]:
    return sorted(epoch for epoch in set(epochs) if upto is None or epoch <= upto)


def prove(store: Store, job_id: str, upto: int | None = None) -> JobProof:
    """Inclusion proofs of every sealed entry of ``job_id`` (up to epoch ``upto`` when
    given); :class:`NotFound` if none, with the same message whether the job is unknown,
    open or held back (a job still open has no entry in a published epoch: its
    reservation holds its epoch back, see :class:`Publication`)."""
    with store.transaction(read_only=True) as tx:
        entries = tx.ledger.job_entries(job_id)
        epochs = _within((entry.epoch for entry in entries), upto)
        found = [e for epoch in epochs for e in tx.ledger.epoch_entries(epoch)]
        seals = [seal for seal in tx.ledger.seals() if seal.epoch in epochs]
    return prove_job(found, seals, job_id)
