"""Credit services: prices and quotes, balances, entries, grants and transfers.

The rules are the core's (:mod:`swarmgen.core.credits`, :mod:`swarmgen.core.pricing`);
this module reads what they need from the store and records what they decide through a
ledger :class:`~swarmgen.store.ledger.Book`, in one transaction each.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

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
from swarmgen.store.ledger import LedgerStore
from swarmgen.store.records import UserRecord
from swarmgen.store.sql import SqlStore

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
"""Name and role of the shared user behind the anonymous API key."""


class Payment:
    """States of a job's credits, as its requester sees them."""

    RESERVED = "reserved"
    """The price is held in the job's escrow."""
    PENDING = "pending"
    """Completed: the price is the worker's pending earnings until the epoch closes."""
    PAID = "paid"
    """The epoch closed and the worker's owner was paid."""
    REFUNDED = "refunded"
    """Failed, cancelled or expired: the escrow went back to the requester."""
    FORFEITED = "forfeited"
    """The worker was found invalid: its earnings went back to the requester."""


MAX_SUPPLY = 2**63 - 1
"""Most micro-credits ever minted: bounds every balance to a 64-bit column."""


def entry_view(entry: Entry) -> dict[str, Any]:
    """An entry as the API shows it (the exported form, receipt included)."""
    return entry.to_dict()


@dataclass
class CreditService:
    settings: CreditSettings
    store: SqlStore
    ledger: LedgerStore
    registry: Registry
    clock: Clock
    _anonymous: UserRecord | None = field(default=None, init=False, repr=False)

    @property
    def policy(self) -> PriorityPolicy:
        return PriorityPolicy(points_per_s=self.settings.aging_points_per_s)

    def quote(self, offering: Offering, spec: Spec) -> pricing.Quote:
        """What ``spec`` costs on ``offering``, from the registry's rates and multiplier."""
        multiplier = self.registry.offering(offering).price_multiplier
        return pricing.quote(spec, multiplier, self.registry.rates)

    def active_limit(self, user: UserRecord) -> int:
        if user.role == ANONYMOUS:
            return self.settings.anonymous_max_active_jobs
        return self.settings.max_active_jobs

    def balance(self, user: UserRecord) -> int:
        return self.ledger.balance(accounts.user(user.id))

    def account(self, user: UserRecord) -> Account:
        """Spendable and reserved credits, and the open epoch."""
        open_epoch = self.ledger.open_epoch()
        return Account(
            user_id=user.id,
            account=accounts.user(user.id),
            balance=self.balance(user),
            reserved=self.store.reserved_total(user.id),
            epoch=open_epoch.epoch if open_epoch else 0,
        )

    def entries(self, user: UserRecord, limit: int, before_seq: int | None = None) -> list[Entry]:
        """The user's entries, newest first (not the anonymous account's: they name jobs)."""
        if user.role == ANONYMOUS:
            raise AnonymousRefused("the anonymous key cannot read the shared account's entries")
        return self.ledger.account_entries(accounts.user(user.id), limit, before_seq)

    def _user(self, name: str) -> UserRecord:
        if name == ANONYMOUS:
            return self.anonymous()
        user = self.store.user_by_name(name)
        if user is None:
            raise NotFound(f"no user {name}", user=name)
        return user

    def grant(self, name: str, amount: int, reason: str = "grant") -> Entry:
        """Mint ``amount`` micro-credits to user ``name``."""
        user = self._user(name)
        with self.ledger.book(self.clock.now_ms()) as book:
            minted = -book.balance(accounts.MINT)
            if minted + amount > MAX_SUPPLY:  # every balance stays a 64-bit integer
                problem = FieldProblem("amount", "would mint past the supply bound", MAX_SUPPLY)
                raise InvalidRequest(problem)
            (entry,) = book.post([credits.grant(user.id, amount, reason)])
        log.info("granted %d to %s (%s)", amount, name, reason)
        return entry

    def transfer(self, sender: UserRecord, recipient: str, amount: int) -> Entry:
        """Move ``amount`` from ``sender`` to user ``recipient`` (never from the anonymous
        account, which every anonymous caller shares)."""
        if sender.role == ANONYMOUS:
            raise AnonymousRefused("the anonymous key cannot move the shared account's credits")
        target = self.store.user_by_name(recipient)
        if target is None:
            raise InvalidRequest(FieldProblem("to", f"no user {recipient}"))
        with self.ledger.book(self.clock.now_ms()) as book:
            source, sink = accounts.user(sender.id), accounts.user(target.id)
            balances = book.balances(source, sink)
            (entry,) = book.post([credits.transfer(balances, sender.id, target.id, amount)])
        return entry

    def anonymous(self) -> UserRecord:
        """The shared anonymous user, created on first use."""
        if self._anonymous is None:
            user = self.store.user_by_name(ANONYMOUS)
            if user is None:
                record = UserRecord(uuid.uuid4().hex, ANONYMOUS, ANONYMOUS, self.clock.now_ms())
                with contextlib.suppress(IntegrityError):  # another request made it first
                    self.store.create_user(record)
                user = self.store.user_by_name(ANONYMOUS)
                assert user is not None
            self._anonymous = user
        return self._anonymous
