"""Epochs: closing and sealing them, verdicts on workers, and worker stake.

An epoch closes when it has been open ``epoch_length_s``. Closing runs in one ledger
transaction (under the ledger lock, so two coordinators never close the same epoch):
:func:`swarmgen.core.settlement.settle_epoch` decides forfeits, slashes, rewards,
emission and payouts; they are recorded; the epoch's entries are sealed under a Merkle
root signed with the coordinator's key; the next epoch opens.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from swarmgen.clock import Clock
from swarmgen.coordinator.credits import Payment
from swarmgen.coordinator.sampling import ensure_seed
from swarmgen.coordinator.settings import EpochSettings
from swarmgen.coordinator.verdicts import EpochJudge
from swarmgen.core import accounts, stake
from swarmgen.core.accounts import AccountKind
from swarmgen.core.jobs import spec_from_canonical
from swarmgen.core.ledger import Entry, EntryKind
from swarmgen.core.rewards import WorkerWork
from swarmgen.core.seal import EpochSeal, seal_epoch
from swarmgen.core.settlement import EpochConfig, Sanction, Settlement, settle_epoch
from swarmgen.core.signing import KeyPair
from swarmgen.errors import Conflict, Forbidden
from swarmgen.registry import Registry
from swarmgen.store import schema as t
from swarmgen.store.ledger import Book, LedgerStore
from swarmgen.store.sql import SqlStore

log = logging.getLogger(__name__)

NO_OWNER = "no owner to pay"


@dataclass(frozen=True)
class StakeView:
    worker_id: str
    locked: int
    unbonding: int
    unlock_epoch: int | None
    epoch: int


def _work(conn: Connection, releases: Sequence[Entry]) -> list[WorkerWork]:
    """Verified work per (worker, offering) from the epoch's releases."""
    ids = [e.job_id for e in releases if e.job_id]
    rows = conn.execute(
        select(t.jobs.c.id, t.jobs.c.offering, t.jobs.c.spec).where(t.jobs.c.id.in_(ids))
    ).all()
    jobs = {row.id: row for row in rows}
    units: dict[tuple[str, str], int] = {}
    speeds: dict[tuple[str, str], list[int]] = {}
    for entry in releases:
        row = jobs.get(entry.job_id or "")
        receipt = entry.posting.receipt
        if row is None or receipt is None:
            continue
        key = (receipt.worker_id, row.offering)
        work = spec_from_canonical(row.spec).work_units()
        units[key] = units.get(key, 0) + work
        if work and receipt.run_ms():
            speeds.setdefault(key, []).append(receipt.run_ms() * 1_000_000 // work)
    return [
        WorkerWork(worker, offering, amount, int(statistics.median_low(speeds.get(key, [0]))))
        for key in sorted(units)
        for worker, offering, amount in [(key[0], key[1], units[key])]
    ]


def _owners(conn: Connection, worker_ids: Sequence[str]) -> dict[str, str]:
    rows = conn.execute(
        select(t.workers.c.id, t.workers.c.owner_id).where(t.workers.c.id.in_(list(worker_ids)))
    ).all()
    return {row.id: row.owner_id for row in rows if row.owner_id}


@dataclass
class EpochService:
    settings: EpochSettings
    store: SqlStore
    ledger: LedgerStore
    registry: Registry
    clock: Clock
    keys: KeyPair

    @property
    def config(self) -> EpochConfig:
        return EpochConfig(
            length_s=self.settings.epoch_length_s,
            emission_per_epoch=self.settings.epoch_emission,
            offering_shares=self.registry.emission_shares(),
            validator_fee_ppm=self.settings.validator_fee_ppm,
            stake=stake.StakePolicy(self.settings.stake_unlock_epochs, self.settings.slash_ppm),
        )

    def close_due(self, force: bool = False) -> EpochSeal | None:
        """Close and seal the open epoch if it has lasted its length (or ``force``)."""
        now = self.clock.now_ms()
        with self.ledger.book(now) as book:
            if not force and now - book.epoch.opened_ms < self.settings.epoch_length_s * 1000:
                return None
            seal = self._close(book)
        log.info("sealed epoch %d: %d entries, root %s", seal.epoch, seal.count, seal.root)
        return seal

    def _close(self, book: Book) -> EpochSeal:
        epoch = book.epoch.epoch
        entries = book.epoch_entries(epoch)
        balances = book.all_balances()
        pending = sorted(
            accounts.account_id(name)
            for name, amount in balances.items()
            if amount > 0 and accounts.account_kind(name) is AccountKind.WORKER
        )
        validated = EpochJudge(self.registry).judge(book, entries)
        owners = _owners(book.conn, sorted(set(pending) | set(validated)))
        verdicts: dict[str, Sanction] = {
            w: Sanction(reason=NO_OWNER) for w in pending if w not in owners
        }
        checks = {w: n for w, n in validated.items() if w in owners}
        for worker_id in LedgerStore.invalid_workers(book.conn, epoch):
            verdicts[worker_id] = Sanction(reason="verdict")
        releases = [e for e in entries if e.kind is EntryKind.RELEASE]
        settlement = settle_epoch(
            entries,
            balances,
            self.config,
            verdicts=verdicts,
            work=_work(book.conn, releases),
            checks=checks,
            owners=owners,
        )
        book.post(settlement.postings)
        self._mark_jobs(book, releases, settlement)
        sealed = book.epoch_entries(epoch)
        seal = seal_epoch(
            epoch,
            sealed,
            head_hash=book.head,
            next_seq=book.next_seq,
            totals=book.totals(),
            keys=self.keys,
        )
        book.seal(seal)
        ensure_seed(book)  # the next epoch's draw is committed as it opens
        return seal

    def _mark_jobs(self, book: Book, releases: Sequence[Entry], settled: Settlement) -> None:
        forfeited = {e.job_id for e in settled.postings if e.kind is EntryKind.FORFEIT}
        paid = [e.job_id for e in releases if e.job_id and e.job_id not in forfeited]
        if paid:
            self.store.set_payment(paid, Payment.PAID, book.conn)
        if forfeited:
            self.store.set_payment(sorted(j for j in forfeited if j), Payment.FORFEITED, book.conn)

    def record_verdict(
        self, worker_id: str, epoch: int, invalid: bool, evidence: Mapping[str, Any]
    ) -> None:
        """The verification outcome for ``worker_id`` in ``epoch``, applied when it closes.

        A later verdict for the same worker and epoch replaces the earlier one.
        """
        open_epoch = self.ledger.open_epoch()
        current = open_epoch.epoch if open_epoch else 0
        if epoch < current:
            raise Conflict(f"epoch {epoch} is already sealed", epoch=epoch)
        self.ledger.record_verdict(epoch, worker_id, invalid, evidence, self.clock.now_ms())

    # stake ------------------------------------------------------------------------

    def _owner(self, worker_id: str) -> str:
        worker = self.store.get_worker(worker_id)
        if worker is None or worker.owner_id is None:
            raise Forbidden("register this worker with its owner's API key to stake")
        return worker.owner_id

    def stake_view(self, worker_id: str) -> StakeView:
        balances = self.ledger.balances()
        unbonds = self.ledger.kind_entries(EntryKind.STAKE_UNBOND, accounts.unbonding(worker_id))
        unbonding = balances.get(accounts.unbonding(worker_id), 0)
        open_epoch = self.ledger.open_epoch()
        return StakeView(
            worker_id=worker_id,
            locked=balances.get(accounts.stake(worker_id), 0),
            unbonding=unbonding,
            unlock_epoch=stake.unlock_epoch(unbonds, worker_id) if unbonding else None,
            epoch=open_epoch.epoch if open_epoch else 0,
        )

    def lock_stake(self, worker_id: str, amount: int) -> StakeView:
        """The worker's owner locks ``amount`` behind the worker."""
        owner = self._owner(worker_id)
        with self.ledger.book(self.clock.now_ms()) as book:
            balances = book.balances(accounts.user(owner))
            book.post([stake.lock(balances, owner, worker_id, amount)])
        return self.stake_view(worker_id)

    def unbond_stake(self, worker_id: str, amount: int) -> StakeView:
        """Start the unlock delay for ``amount`` of the worker's locked stake."""
        self._owner(worker_id)
        with self.ledger.book(self.clock.now_ms()) as book:
            balances = book.balances(accounts.stake(worker_id))
            policy = self.config.stake
            book.post([stake.request_unlock(balances, worker_id, amount, book.epoch.epoch, policy)])
        return self.stake_view(worker_id)

    def withdraw_stake(self, worker_id: str) -> StakeView:
        """Return unbonded stake whose delay has passed to the owner."""
        owner = self._owner(worker_id)
        unbonding = accounts.unbonding(worker_id)
        with self.ledger.book(self.clock.now_ms()) as book:
            unbonds = book.kind_entries(EntryKind.STAKE_UNBOND, unbonding)
            balances = book.balances(unbonding)
            unlocks_at = stake.unlock_epoch(unbonds, worker_id)
            book.post([stake.unlock(balances, owner, worker_id, book.epoch.epoch, unlocks_at)])
        return self.stake_view(worker_id)
