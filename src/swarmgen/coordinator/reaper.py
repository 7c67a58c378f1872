"""The lease reaper: what the leader does every few seconds for jobs nobody will finish.

Expired leases go back to the queue (or fail, refunded, out of attempts), expired
validation seats are missed seats of their holders and are drawn again, seats waiting
for a draw are drawn, ordinary jobs queued past their time expire (refunded in full),
and old request nonces are pruned. It runs in one process of a deployment, the leader
(:mod:`swarmgen.coordinator.tasks`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from swarmgen.clock import Clock
from swarmgen.coordinator.credits import refund
from swarmgen.coordinator.notify import Notifier
from swarmgen.coordinator.settings import DispatchSettings
from swarmgen.coordinator.verification import Verifier
from swarmgen.coordinator.workers import wake_for
from swarmgen.core import credits
from swarmgen.store.port import Store

log = logging.getLogger(__name__)


@dataclass
class Reaper:
    settings: DispatchSettings
    store: Store
    clock: Clock
    notifier: Notifier
    verifier: Verifier | None = None
    """Misses and draws validation seats (None: no checks)."""
    _pruned_ms: int = field(default=-(2**62), repr=False)
    """When nonces were last pruned (in this process: the reaper runs in the leader)."""

    def reap(self) -> tuple[list[str], list[str]]:
        """Requeue jobs whose lease expired; fail those out of attempts; expire ordinary
        jobs queued past ``queue_ttl_s``; prune old nonces.

        Expired validation seats go first, to :meth:`Verifier.missed`: each is a missed
        seat of its holder and is drawn again for another worker (never failed). Then
        seats that wait undrawn, or whose drawn worker went quiet, are drawn
        (:meth:`Verifier.draw_waiting`). An expired job is refunded in full: no worker
        ran it. Returns ``(requeued, failed)``, the expired among the failed.

        A read-only look comes first (:meth:`_reapable`): the usual second, with nothing
        to do, writes nothing and takes no lock, unless job money waits in the journal
        (PostgreSQL), which it chains as its ledger transaction would have."""
        now = self.clock.now_ms()
        if self._reapable(now):
            requeued, failed = self._reap(now)
        else:
            self.store.chain_journal()
            requeued, failed = [], []
        self._prune_nonces(now)
        return requeued, failed

    def _reap(self, now: int) -> tuple[list[str], list[str]]:
        """:meth:`reap`'s work, in one ledger transaction."""
        queued = 0
        ttl_s = self.settings.queue_ttl_s
        with self.store.transaction(now, ledger=True) as tx:
            expired = self.verifier.expired(tx, now) if self.verifier else []
            if self.verifier and expired:
                queued = self.verifier.missed(tx, expired)
            requeued, failed = tx.dispatch.reap(now, self.settings.max_attempts)
            if self.verifier:
                queued += self.verifier.draw_waiting(tx)
            refund(tx, tx.jobs.get_many(failed), credits.RefundReason.FAILED)
            stale = tx.dispatch.expire(
                now - ttl_s * 1000, now, f"expired: no worker took it within {ttl_s} s"
            )
            refund(tx, tx.jobs.get_many(stale), credits.RefundReason.EXPIRED)
            requeued = [job_id for job_id in requeued if job_id not in stale]
            failed += stale
            wake = wake_for(tx, requeued, seats=queued > 0)
        if requeued or queued:
            log.info("lease expired, queued again: %s", ", ".join(requeued))
        if wake:
            self.notifier.queue.fire(wake)
        for job_id in requeued + failed:
            self.notifier.job_changed(job_id)
        return requeued, failed

    def _reapable(self, now: int) -> bool:
        """Whether :meth:`reap` has anything to do at ``now``, read without writing or
        locking (a write queues for the writer and, on the ledger, holds its lock): a
        lease that expired (a seat's included), an ordinary job queued past
        ``queue_ttl_s``, and with checks on, any queued seat (one to draw, or whose
        drawn worker has not taken it)."""
        with self.store.transaction(read_only=True) as tx:
            if tx.dispatch.reapable(now, now - self.settings.queue_ttl_s * 1000):
                return True
            return self.verifier is not None and bool(tx.seats.queued_seats())

    def _prune_nonces(self, now: int) -> None:
        """Forget nonces older than three clock skews, once per skew: a request that old
        is refused for its timestamp anyway, so a nonce kept a little longer costs only
        its row, where pruning every second made a write transaction every second."""
        skew_ms = self.settings.clock_skew_s * 1000
        if now - self._pruned_ms < skew_ms:
            return
        with self.store.transaction() as tx:
            tx.nonces.prune(now - 3 * skew_ms)
        self._pruned_ms = now
