"""Credit services: prices and quotes, balances, entries, grants and transfers.

The rules are the core's (:mod:`swarmgen.core.credits`, :mod:`swarmgen.core.pricing`);
this module reads what they need from the store and records what they decide through the
ledger book of one store transaction each. :func:`refund` is the one path by which a
job's escrow goes back to its requester (failed, expired or cancelled).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from swarmgen.clock import Clock
from swarmgen.coordinator.domain import Account
from swarmgen.coordinator.settings import CreditSettings
from swarmgen.core import accounts, credits, pricing
from swarmgen.core.jobs import Spec
from swarmgen.core.ledger import Entry
from swarmgen.core.offerings import Offering
from swarmgen.core.priority import PriorityPolicy
from swarmgen.errors import AnonymousRefused, FieldProblem, InvalidRequest, NotFound
from swarmgen.registry import Registry
from swarmgen.store.port import Store, Transaction
from swarmgen.store.records import JobRecord, UserRecord

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
"""Name and role of the shared user behind the anonymous API key."""


class Payment:
    """States of a job's credits, as its requester sees them."""

    RESERVED = "reserved"
    """The price is held in the job's escrow."""
    PENDING = "pending"
    """Completed: the price is the worker's pending earnings until an epoch closes after
    the job's check (if it was drawn for one) has settled."""
    PAID = "paid"
    """The epoch closed and the worker's owner was paid."""
    REFUNDED = "refunded"
    """Failed, cancelled or expired: the escrow went back to the requester."""
    FORFEITED = "forfeited"
    """The job's check was rejected or its worker found invalid: its earnings went back
    to the requester."""


MAX_SUPPLY = 2**63 - 1
"""Most micro-credits ever minted: bounds every balance to a 64-bit column."""


def entry_view(entry: Entry) -> dict[str, Any]:
    """An entry as the API shows it (the exported form, receipt included)."""
    return entry.to_dict()


def refund(tx: Transaction, jobs: Sequence[JobRecord], reason: credits.RefundReason) -> list[str]:
    """Give the escrow of ``jobs`` that still hold it back to their requesters.

    Jobs whose credits already moved on (pending, paid, refunded, forfeited) or that
    never reserved any (validation jobs) are left alone. Marks the refunded jobs and
    returns their ids; runs in the caller's ledger transaction.
    """
    held = [job for job in jobs if job.payment == Payment.RESERVED]
    # Every account at once: their rows are locked in one order, whichever jobs these are.
    moved = [(accounts.escrow(job.id), accounts.user(job.user_id)) for job in held]
    balances = tx.postings.balances(*(account for pair in moved for account in pair))
    tx.postings.post(credits.refund(balances, job.id, job.user_id, reason) for job in held)
    refunded = [job.id for job in held]
    tx.jobs.set_payment(refunded, Payment.REFUNDED)
    return refunded


@dataclass
class CreditService:
    settings: CreditSettings
    store: Store
    registry: Registry
    clock: Clock
    _anonymous: UserRecord | None = field(default=None, init=False, repr=False)

    @property
    def policy(self) -> PriorityPolicy:
        return PriorityPolicy(points_per_s=self.settings.aging_points_per_s)

    def quote(self, offering: Offering, spec: Spec) -> pricing.Quote:
        """What ``spec`` costs on ``offering``, from the registry's rates and multiplier."""
        multiplier = self.registry.offering(offering).multiplier_ppm
        return pricing.quote(spec, multiplier, self.registry.rates)

    def active_limit(self, user: UserRecord) -> int:
        if user.role == ANONYMOUS:
            return self.settings.anonymous_max_active_jobs
        return self.settings.max_active_jobs

    def balance(self, user: UserRecord) -> int:
        with self.store.transaction() as tx:
            return tx.ledger.balance(accounts.user(user.id))

    def reserved(self, user: UserRecord) -> int:
        """Micro-credits held in escrow for the user's jobs."""
        with self.store.transaction() as tx:
            return tx.jobs.reserved_total(user.id)

    def current_epoch(self) -> int:
        """The open epoch (0 before the ledger's first transaction)."""
        with self.store.transaction() as tx:
            open_epoch = tx.ledger.open_epoch()
        return open_epoch.epoch if open_epoch else 0

    def account(self, user: UserRecord) -> Account:
        """Spendable and reserved credits, and the open epoch."""
        with self.store.transaction() as tx:
            open_epoch = tx.ledger.open_epoch()
            return Account(
                user_id=user.id,
                account=accounts.user(user.id),
                balance=tx.ledger.balance(accounts.user(user.id)),
                reserved=tx.jobs.reserved_total(user.id),
                epoch=open_epoch.epoch if open_epoch else 0,
            )

    def entries(self, user: UserRecord, limit: int, before_seq: int | None = None) -> list[Entry]:
        """The user's entries, newest first (not the anonymous account's: they name jobs)."""
        if user.role == ANONYMOUS:
            raise AnonymousRefused("the anonymous key cannot read the shared account's entries")
        account = accounts.user(user.id)
        self.store.chain_journal(touching=account)  # its latest postings, in the chain
        with self.store.transaction() as tx:
            return tx.ledger.account_entries(account, limit, before_seq)

    def user(self, name: str) -> UserRecord | None:
        with self.store.transaction() as tx:
            return tx.users.by_name(name)

    def _user(self, name: str) -> UserRecord:
        if name == ANONYMOUS:
            return self.anonymous()
        user = self.user(name)
        if user is None:
            raise NotFound(f"no user {name}", user=name)
        return user

    def grant(self, name: str, amount: int, reason: str = "grant") -> Entry:
        """Mint ``amount`` micro-credits to user ``name``."""
        user = self._user(name)
        with self.store.transaction(self.clock.now_ms(), ledger=True) as tx:
            minted = -tx.book.balance(accounts.MINT)
            if minted + amount > MAX_SUPPLY:  # every balance stays a 64-bit integer
                problem = FieldProblem("amount", "would mint past the supply bound", MAX_SUPPLY)
                raise InvalidRequest(problem)
            (entry,) = tx.book.post([credits.grant(user.id, amount, reason)])
        log.info("granted %d to %s (%s)", amount, name, reason)
        return entry

    def transfer(self, sender: UserRecord, recipient: str, amount: int) -> Entry:
        """Move ``amount`` from ``sender`` to user ``recipient`` (never from the anonymous
        account, which every anonymous caller shares)."""
        if sender.role == ANONYMOUS:
            raise AnonymousRefused("the anonymous key cannot move the shared account's credits")
        target = self.user(recipient)
        if target is None:
            raise InvalidRequest(FieldProblem("to", f"no user {recipient}"))
        with self.store.transaction(self.clock.now_ms(), ledger=True) as tx:
            source, sink = accounts.user(sender.id), accounts.user(target.id)
            balances = tx.book.balances(source, sink)
            (entry,) = tx.book.post([credits.transfer(balances, sender.id, target.id, amount)])
        return entry

    def anonymous(self) -> UserRecord:
        """The shared anonymous user, created on first use."""
        if self._anonymous is None:
            record = UserRecord(uuid.uuid4().hex, ANONYMOUS, ANONYMOUS, self.clock.now_ms())
            with self.store.transaction() as tx:  # another request may make it first
                self._anonymous = tx.users.by_name(ANONYMOUS) or tx.users.create_if_missing(record)
        return self._anonymous
