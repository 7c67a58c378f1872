"""Epochs: closing and sealing them, verdicts on workers, and worker stake.

An epoch closes when it has been open ``epoch_length_s``. Closing runs in one ledger
transaction (under the ledger lock, so two coordinators never close the same epoch):
:func:`swarmgen.core.settlement.settle_epoch` decides forfeits, slashes, rewards,
emission and payouts over every release still held (this epoch's and earlier ones whose
checks had not settled); they are recorded; the epoch's entries are sealed under a
Merkle root signed with the coordinator's key; the next epoch opens.

Speed in the emission split is the coordinator's own observation, lease start to
completion stamp per work unit (:func:`swarmgen.core.rewards.observed_speeds`); the
timings in a worker's receipt are kept but never feed money.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from swarmgen.chain.owed import owe_epoch
from swarmgen.clock import Clock
from swarmgen.coordinator.credits import Payment
from swarmgen.coordinator.sampling import ensure_seed
from swarmgen.coordinator.settings import EpochSettings
from swarmgen.coordinator.verdicts import EpochJudge
from swarmgen.core import accounts, stake
from swarmgen.core.accounts import AccountKind
from swarmgen.core.jobs import spec_from_canonical
from swarmgen.core.ledger import Entry, EntryKind
from swarmgen.core.rewards import JobWork, Run, observed_speeds
from swarmgen.core.seal import EpochSeal, seal_epoch
from swarmgen.core.settlement import (
    CheckState,
    EpochConfig,
    Sanction,
    Settlement,
    settle_epoch,
)
from swarmgen.core.signing import KeyPair
from swarmgen.core.verification import EscalationPolicy
from swarmgen.errors import Conflict, Forbidden
from swarmgen.registry import Registry
from swarmgen.store.port import Jobs, Store, Transaction
from swarmgen.store.records import JobRecord

log = logging.getLogger(__name__)

NO_OWNER = "no owner to pay"
_CHUNK = 500
"""Most jobs read in one query at a close."""


@dataclass(frozen=True)
class StakeView:
    worker_id: str
    locked: int
    unbonding: int
    unlock_epoch: int | None
    epoch: int


def _run(job: JobRecord) -> Run:
    """A completed job as the coordinator timed it (``updated_ms`` is stamped at
    completion and a completed job's row is not updated again)."""
    units = spec_from_canonical(job.spec).work_units()
    return Run(job.id, job.worker_id or "", job.leased_ms, job.updated_ms, units, job.attempts)


def _work(jobs: Jobs, releases: Sequence[Entry]) -> dict[str, JobWork]:
    """Each released job's work units and observed speed (see the module docstring)."""
    ids = [e.job_id for e in releases if e.job_id]
    records = {
        job.id: job
        for start in range(0, len(ids), _CHUNK)
        for job in jobs.get_many(ids[start : start + _CHUNK])
        if job.worker_id is not None
    }
    batches = {(j.worker_id or "", j.leased_ms) for j in records.values() if j.leased_ms}
    together = jobs.leased_together([(w, ms) for w, ms in batches if ms is not None])
    runs = {job.id: _run(job) for job in [*records.values(), *together]}
    speeds = observed_speeds(runs.values())
    out: dict[str, JobWork] = {}
    for entry in releases:
        job = records.get(entry.job_id or "")
        if job is None:
            continue
        worker_id = accounts.account_id(entry.posting.credit)
        out[job.id] = JobWork(
            job.id, worker_id, job.offering, runs[job.id].units, speeds.get(job.id, 0)
        )
    return out


def _check_states(tx: Transaction, job_ids: Sequence[str]) -> dict[str, CheckState]:
    """Where each held job's check stands; jobs never drawn for one are unsampled."""
    states: dict[str, CheckState] = {}
    for job_id in sorted(tx.validations.checked(job_ids)):
        check = tx.validations.get_check(job_id)
        if check is not None:
            states[job_id] = CheckState(check.status.value)
    return states


@dataclass
class EpochService:
    settings: EpochSettings
    store: Store
    registry: Registry
    clock: Clock
    keys: KeyPair
    chain_outbox: bool = False
    """Owe each seal and slash to the chain (:mod:`swarmgen.chain.owed`) in the closing
    transaction."""

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
        """Close and seal the open epoch if it has lasted its length (or ``force``).

        Whether it has is read first without writing: the closer asks every second, and
        a ledger transaction queues for the writer and holds the ledger's lock."""
        now = self.clock.now_ms()
        length_ms = self.settings.epoch_length_s * 1000
        if not force:
            with self.store.transaction(read_only=True) as tx:
                epoch = tx.ledger.open_epoch()
            if epoch is not None and now - epoch.opened_ms < length_ms:
                return None  # (no epoch yet: the ledger transaction below opens the first)
        with self.store.transaction(now, ledger=True) as tx:
            if not force and now - tx.book.epoch.opened_ms < length_ms:
                return None
            seal = self._close(tx)
        log.info("sealed epoch %d: %d entries, root %s", seal.epoch, seal.count, seal.root)
        return seal

    def _close(self, tx: Transaction) -> EpochSeal:
        book = tx.book
        epoch = book.epoch.epoch
        entries = tx.ledger.epoch_entries(epoch)
        balances = book.all_balances()
        pending = sorted(
            accounts.account_id(name)
            for name, amount in balances.items()
            if amount > 0 and accounts.account_kind(name) is AccountKind.WORKER
        )
        judge = EpochJudge(self.registry, escalation=EscalationPolicy(self.settings.panel_stages))
        validated = judge.judge(tx, entries)
        owners = tx.workers.owners(set(pending) | set(validated))
        verdicts: dict[str, Sanction] = {
            w: Sanction(reason=NO_OWNER) for w in pending if w not in owners
        }
        checks = {w: n for w, n in validated.items() if w in owners}
        for worker_id in tx.verdicts.invalid_workers(epoch):
            verdicts[worker_id] = Sanction(reason="verdict")
        held = tx.jobs.with_payment(Payment.PENDING)
        releases = tx.ledger.releases_of(held)
        settlement = settle_epoch(
            releases,
            balances,
            self.config,
            verdicts=verdicts,
            checks=checks,
            owners=owners,
            check_states=_check_states(tx, held),
            job_work=_work(tx.jobs, releases),
            seats=tx.validations.seat_records(epoch),
        )
        book.post(settlement.postings)
        _mark_jobs(tx, settlement)
        sealed = tx.ledger.epoch_entries(epoch)
        seal = seal_epoch(
            epoch,
            sealed,
            head_hash=book.head,
            next_seq=book.next_seq,
            totals=book.totals(),
            keys=self.keys,
        )
        book.seal(seal)
        if self.chain_outbox:
            owe_epoch(tx, seal, self.settings.slash_ppm)
        ensure_seed(tx)  # the next epoch's draw is committed as it opens
        return seal

    def record_verdict(
        self, worker_id: str, epoch: int, invalid: bool, evidence: Mapping[str, Any]
    ) -> None:
        """An operator's verdict on ``worker_id`` in ``epoch``, applied when it closes.

        It goes through the one verdict write path
        (:meth:`swarmgen.store.verdicts.VerdictRepository.record`), so an earlier invalid
        verdict for the same worker and epoch stands.
        """
        now = self.clock.now_ms()
        with self.store.transaction() as tx:
            open_epoch = tx.ledger.open_epoch()
            current = open_epoch.epoch if open_epoch else 0
            if epoch < current:
                raise Conflict(f"epoch {epoch} is already sealed", epoch=epoch)
            tx.verdicts.record(epoch, worker_id, invalid=invalid, evidence=evidence, now=now)

    # stake ------------------------------------------------------------------------

    def _owner(self, worker_id: str) -> str:
        with self.store.transaction() as tx:
            worker = tx.workers.get(worker_id)
        if worker is None or worker.owner_id is None:
            raise Forbidden("register this worker with its owner's API key to stake")
        return worker.owner_id

    def stake_view(self, worker_id: str) -> StakeView:
        with self.store.transaction() as tx:
            balances = tx.ledger.balances()
            unbonding_account = accounts.unbonding(worker_id)
            unbonds = tx.ledger.kind_entries(EntryKind.STAKE_UNBOND, unbonding_account)
            open_epoch = tx.ledger.open_epoch()
        unbonding = balances.get(accounts.unbonding(worker_id), 0)
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
        with self.store.transaction(self.clock.now_ms(), ledger=True) as tx:
            balances = tx.book.balances(accounts.user(owner))
            tx.book.post([stake.lock(balances, owner, worker_id, amount)])
        return self.stake_view(worker_id)

    def unbond_stake(self, worker_id: str, amount: int) -> StakeView:
        """Start the unlock delay for ``amount`` of the worker's locked stake."""
        self._owner(worker_id)
        with self.store.transaction(self.clock.now_ms(), ledger=True) as tx:
            balances = tx.book.balances(accounts.stake(worker_id))
            policy, epoch = self.config.stake, tx.book.epoch.epoch
            tx.book.post([stake.request_unlock(balances, worker_id, amount, epoch, policy)])
        return self.stake_view(worker_id)

    def withdraw_stake(self, worker_id: str) -> StakeView:
        """Return unbonded stake whose delay has passed to the owner."""
        owner = self._owner(worker_id)
        unbonding = accounts.unbonding(worker_id)
        with self.store.transaction(self.clock.now_ms(), ledger=True) as tx:
            unbonds = tx.ledger.kind_entries(EntryKind.STAKE_UNBOND, unbonding)
            balances = tx.book.balances(unbonding)
            unlocks_at = stake.unlock_epoch(unbonds, worker_id)
            epoch = tx.book.epoch.epoch
            tx.book.post([stake.unlock(balances, owner, worker_id, epoch, unlocks_at)])
        return self.stake_view(worker_id)


def _mark_jobs(tx: Transaction, settled: Settlement) -> None:
    """Released jobs are paid and forfeited ones forfeited; held ones stay pending."""
    paid = sorted(e.job_id for e in settled.jobs.released if e.job_id)
    forfeited = sorted(e.job_id for e in settled.jobs.forfeited if e.job_id)
    tx.jobs.set_payment(paid, Payment.PAID)
    tx.jobs.set_payment(forfeited, Payment.FORFEITED)
