"""The append-only, hash-chained, double-entry ledger.

Every movement of credits is an :class:`Entry` that takes ``amount`` micro-credits out of
its ``debit`` account and puts them into its ``credit`` account. Balances are never
stored as truth: they are a projection (a fold) of the entries. Each entry carries the
hash of the one before it, so rewriting history changes every later hash.

Rules (who may pay whom) live in :data:`RULES`, one per :class:`EntryKind`; the same
rules are checked when an entry is made and when an exported ledger is verified.
A few kinds are *records*: they move nothing (amount 0, one account on both sides) and
exist to put a fact in the chain under the epoch's seal, such as a verification verdict
or the commitment to an epoch's sampling seed.
The transitions that decide *which* entries to make live in ``credits``, ``stake`` and
``settlement``; this module only records them.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from swarmgen.core.accounts import (
    BURN,
    MINT,
    AccountKind,
    BadAccount,
    account_id,
    account_kind,
    in_supply,
)
from swarmgen.core.canonical import digest
from swarmgen.core.receipts import Receipt
from swarmgen.errors import SwarmgenError

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry."""


class LedgerError(SwarmgenError):
    """An entry breaks a ledger rule; the ledger is left unchanged."""

    code = "ledger_error"
    status = 500


class Overdraft(LedgerError):
    """An entry would make a balance in circulation negative."""

    code = "overdraft"


class EntryKind(StrEnum):
    """Why credits moved."""

    GRANT = "grant"
    """New credits minted to a user (an admin grant or a sign-up allowance)."""
    TRANSFER = "transfer"
    """A user gives credits to another user."""
    RESERVE = "reserve"
    """A job's price moves from its requester into the job's escrow at submit."""
    RELEASE = "release"
    """A completed job's escrow, less the validation fee, becomes the worker's pending earnings."""
    VALIDATOR_FEE = "validator_fee"
    """The validation share of a completed job's escrow goes to the validator pool."""
    REFUND = "refund"
    """A failed, cancelled or expired job's escrow goes back to its requester."""
    FORFEIT = "forfeit"
    """An invalid worker's pending earnings for a job go back to the job's requester."""
    VALIDATOR_REWARD = "validator_reward"
    """The validator pool pays a validator (pending) for the checks it ran in the epoch."""
    EMISSION = "emission"
    """Newly minted epoch rewards to a worker (pending), by offering share and performance."""
    PAYOUT = "payout"
    """At the epoch close, a valid worker's pending earnings are paid to its owner."""
    STAKE_LOCK = "stake_lock"
    """An owner locks credits as stake behind one of its workers."""
    STAKE_UNBOND = "stake_unbond"
    """Locked stake starts its unlock delay (it stays slashable while it waits)."""
    STAKE_UNLOCK = "stake_unlock"
    """Stake whose unlock delay has passed returns to the owner."""
    SLASH = "slash"
    """Part of an invalid worker's stake is burned."""
    SAMPLING_COMMIT = "sampling_commit"
    """Record: the hash of the epoch's secret sampling seed, published when the epoch opens."""
    SAMPLING_REVEAL = "sampling_reveal"
    """Record: the epoch's sampling seed, revealed when the epoch closes."""
    VERDICT = "verdict"
    """Record: a worker's verification verdict for the epoch, with its evidence in the memo."""


@dataclass(frozen=True)
class Rule:
    """Which account kinds an entry kind may take from and give to."""

    debit: frozenset[AccountKind]
    credit: frozenset[AccountKind]
    needs_job: bool = False
    """The entry must name its job; an escrow account on either side must be that job's."""
    same_id: bool = False
    """Debit and credit must share their id (the same worker's stake and unbonding)."""
    record: bool = False
    """The entry moves nothing: amount 0, and debit and credit are the same account."""


def _rule(
    debit: AccountKind | tuple[AccountKind, ...],
    credit: AccountKind,
    *,
    needs_job: bool = False,
    same_id: bool = False,
    record: bool = False,
) -> Rule:
    debits = debit if isinstance(debit, tuple) else (debit,)
    return Rule(frozenset(debits), frozenset({credit}), needs_job, same_id, record)


K = AccountKind
RULES: Mapping[EntryKind, Rule] = {
    EntryKind.GRANT: _rule(K.MINT, K.USER),
    EntryKind.TRANSFER: _rule(K.USER, K.USER),
    EntryKind.RESERVE: _rule(K.USER, K.ESCROW, needs_job=True),
    EntryKind.RELEASE: _rule(K.ESCROW, K.WORKER, needs_job=True),
    EntryKind.VALIDATOR_FEE: _rule(K.ESCROW, K.VALIDATOR_POOL, needs_job=True),
    EntryKind.REFUND: _rule(K.ESCROW, K.USER, needs_job=True),
    EntryKind.FORFEIT: _rule(K.WORKER, K.USER, needs_job=True),
    EntryKind.VALIDATOR_REWARD: _rule(K.VALIDATOR_POOL, K.WORKER),
    EntryKind.EMISSION: _rule(K.MINT, K.WORKER),
    EntryKind.PAYOUT: _rule(K.WORKER, K.USER),
    EntryKind.STAKE_LOCK: _rule(K.USER, K.STAKE),
    EntryKind.STAKE_UNBOND: _rule(K.STAKE, K.UNBONDING, same_id=True),
    EntryKind.STAKE_UNLOCK: _rule(K.UNBONDING, K.USER),
    EntryKind.SLASH: _rule((K.STAKE, K.UNBONDING), K.BURN),
    EntryKind.SAMPLING_COMMIT: _rule(K.VALIDATOR_POOL, K.VALIDATOR_POOL, record=True),
    EntryKind.SAMPLING_REVEAL: _rule(K.VALIDATOR_POOL, K.VALIDATOR_POOL, record=True),
    EntryKind.VERDICT: _rule(K.WORKER, K.WORKER, record=True),
}
del K

Memo = Mapping[str, str | int]


@dataclass(frozen=True)
class Posting:
    """A movement decided but not yet recorded: an entry without its place in the chain."""

    kind: EntryKind
    debit: str
    credit: str
    amount: int
    job_id: str | None = None
    memo: Memo = field(default_factory=dict)
    receipt: Receipt | None = None

    def check(self) -> None:
        """Raise :class:`LedgerError` unless this posting obeys its kind's rule."""
        rule = RULES[self.kind]
        self._check_amount(rule)
        try:
            debit, credit = account_kind(self.debit), account_kind(self.credit)
        except BadAccount as exc:
            raise LedgerError(f"{self.kind}: {exc.message}") from None
        if debit not in rule.debit or credit not in rule.credit:
            raise LedgerError(f"{self.kind} cannot move {self.debit} -> {self.credit}")
        if (self.debit == self.credit) != rule.record:
            same = "must be" if rule.record else "cannot be"
            raise LedgerError(f"{self.kind}: debit and credit {same} the same account")
        if rule.same_id and account_id(self.debit) != account_id(self.credit):
            raise LedgerError(f"{self.kind}: must stay within one worker")
        if rule.needs_job and not self.job_id:
            raise LedgerError(f"{self.kind}: job_id is required")
        for account, kind in ((self.debit, debit), (self.credit, credit)):
            if kind is AccountKind.ESCROW and account_id(account) != self.job_id:
                raise LedgerError(f"{self.kind}: {account} is not the escrow of {self.job_id}")
        for key, value in self.memo.items():
            if not isinstance(key, str) or type(value) not in (int, str):
                raise LedgerError(f"{self.kind}: memo values must be integers or strings")
        if self.receipt is not None:
            self._check_receipt(self.receipt)

    def _check_amount(self, rule: Rule) -> None:
        if rule.record:
            if type(self.amount) is not int or self.amount != 0:
                raise LedgerError(f"{self.kind}: a record moves nothing (amount 0)")
        elif type(self.amount) is not int or self.amount <= 0:
            raise LedgerError(f"{self.kind}: amount must be a positive integer")

    def _check_receipt(self, receipt: Receipt) -> None:
        if self.kind is not EntryKind.RELEASE:
            raise LedgerError(f"{self.kind}: only a release carries a receipt")
        if receipt.job_id != self.job_id or receipt.worker_id != account_id(self.credit):
            raise LedgerError(f"{self.kind}: the receipt is another job's or worker's")


@dataclass(frozen=True)
class Entry:
    """A recorded posting: its sequence number, epoch, and link to the previous entry."""

    seq: int
    epoch: int
    posting: Posting
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """Everything the hash covers (all fields but the hash itself)."""
        return entry_body(self.seq, self.epoch, self.posting, self.prev_hash)

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}

    @classmethod
    def from_dict(cls, data: Any) -> Entry:
        """Parse an exported entry strictly (exact fields, exact types).

        Raises :class:`LedgerError`; the hash is read, not checked (see ``audit``).
        """
        if not isinstance(data, dict) or set(data) != _ENTRY_FIELDS:
            raise LedgerError(f"an entry has exactly the fields {', '.join(sorted(_ENTRY_FIELDS))}")
        for key in ("seq", "epoch", "amount"):
            if type(data[key]) is not int:
                raise LedgerError(f"entry.{key} must be an integer")
        for key in ("kind", "debit", "credit", "prev_hash", "hash"):
            if not isinstance(data[key], str):
                raise LedgerError(f"entry.{key} must be a string")
        if data["job_id"] is not None and not isinstance(data["job_id"], str):
            raise LedgerError("entry.job_id must be a string or null")
        if not isinstance(data["memo"], dict):
            raise LedgerError("entry.memo must be an object")
        try:
            kind = EntryKind(data["kind"])
            receipt = None if data["receipt"] is None else Receipt.from_dict(data["receipt"])
        except (ValueError, SwarmgenError) as exc:
            raise LedgerError(f"entry: {exc}") from None
        posting = Posting(
            kind,
            data["debit"],
            data["credit"],
            data["amount"],
            data["job_id"],
            data["memo"],
            receipt,
        )
        return cls(data["seq"], data["epoch"], posting, data["prev_hash"], data["hash"])

    @property
    def kind(self) -> EntryKind:
        return self.posting.kind

    @property
    def amount(self) -> int:
        return self.posting.amount

    @property
    def job_id(self) -> str | None:
        return self.posting.job_id


_ENTRY_FIELDS = frozenset(
    [
        "seq",
        "epoch",
        "kind",
        "debit",
        "credit",
        "amount",
        "job_id",
        "memo",
        "receipt",
        "prev_hash",
        "hash",
    ]
)


def posting_body(posting: Posting) -> dict[str, Any]:
    """A posting's fields as stored and hashed (an entry adds its place in the chain)."""
    return {
        "kind": posting.kind.value,
        "debit": posting.debit,
        "credit": posting.credit,
        "amount": posting.amount,
        "job_id": posting.job_id,
        "memo": dict(posting.memo),
        "receipt": posting.receipt.to_dict() if posting.receipt else None,
    }


def entry_body(seq: int, epoch: int, posting: Posting, prev_hash: str) -> dict[str, Any]:
    return {"seq": seq, "epoch": epoch, **posting_body(posting), "prev_hash": prev_hash}


def make_entry(seq: int, epoch: int, posting: Posting, prev_hash: str) -> Entry:
    """Check ``posting`` and place it after ``prev_hash``."""
    posting.check()
    return Entry(seq, epoch, posting, prev_hash, digest(entry_body(seq, epoch, posting, prev_hash)))


def apply(balances: MutableMapping[str, int], posting: Posting) -> None:
    """Fold one posting into ``balances``; :class:`Overdraft` (and no change) if it would
    leave an account in circulation negative."""
    have = balances.get(posting.debit, 0)
    if in_supply(posting.debit) and have < posting.amount:
        raise Overdraft(
            f"{posting.kind}: {posting.debit} holds {have}, needs {posting.amount}",
            account=posting.debit,
            shortfall=posting.amount - have,
        )
    balances[posting.debit] = have - posting.amount
    balances[posting.credit] = balances.get(posting.credit, 0) + posting.amount


def project(postings: Iterable[Posting]) -> dict[str, int]:
    """Balances after ``postings``, in order."""
    balances: dict[str, int] = {}
    for posting in postings:
        apply(balances, posting)
    return balances


@dataclass(frozen=True)
class Totals:
    """The money supply at a point of the ledger."""

    minted: int
    burned: int
    supply: int
    """Sum of all balances in circulation (every account but ``mint`` and ``burn``)."""

    @property
    def conserved(self) -> bool:
        """Conservation: what circulates is exactly what was minted minus what was burned."""
        return self.supply == self.minted - self.burned

    def to_dict(self) -> dict[str, int]:
        return {"minted": self.minted, "burned": self.burned, "supply": self.supply}


def totals(balances: Mapping[str, int]) -> Totals:
    supply = sum(amount for account, amount in balances.items() if in_supply(account))
    return Totals(minted=-balances.get(MINT, 0), burned=balances.get(BURN, 0), supply=supply)


class Ledger:
    """An in-memory chain with its balance projection.

    The reference implementation of the ledger port: tests, benchmarks and the audit
    verifier use it; the database store records the same entries the same way.
    """

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._balances: dict[str, int] = {}
        self._open_from = 0
        self._epoch_start = 0

    @property
    def entries(self) -> Sequence[Entry]:
        return self._entries

    @property
    def balances(self) -> Mapping[str, int]:
        return self._balances

    @property
    def head(self) -> str:
        """Hash of the last entry (the genesis hash when empty)."""
        return self._entries[-1].hash if self._entries else GENESIS_HASH

    @property
    def epoch(self) -> int:
        """The earliest epoch that may still receive entries."""
        return max(self._open_from, self._entries[-1].epoch if self._entries else 0)

    @property
    def open_entries(self) -> Sequence[Entry]:
        """Entries recorded since the last :meth:`close_epoch` (the open epoch's)."""
        return self._entries[self._epoch_start :]

    def close_epoch(self, epoch: int) -> Sequence[Entry]:
        """Close ``epoch``: later entries must be in later epochs. Returns its entries."""
        if epoch < self.epoch:
            raise LedgerError(f"epoch {epoch} is already closed")
        closed = self._entries[self._epoch_start :]
        if any(e.epoch != epoch for e in closed):
            raise LedgerError(f"entries of an earlier epoch than {epoch} were never closed")
        self._open_from, self._epoch_start = epoch + 1, len(self._entries)
        return closed

    def balance(self, account: str) -> int:
        return self._balances.get(account, 0)

    def totals(self) -> Totals:
        return totals(self._balances)

    def append(self, postings: Iterable[Posting], epoch: int) -> list[Entry]:
        """Record ``postings`` atomically in ``epoch``: all of them, or none on error."""
        if epoch < self.epoch:
            raise LedgerError(f"epoch {epoch} is before the ledger's epoch {self.epoch}")
        touched: dict[str, int] = {}
        scratch = ChainMap(touched, self._balances)
        made: list[Entry] = []
        prev, seq = self.head, len(self._entries)
        for posting in postings:
            entry = make_entry(seq, epoch, posting, prev)
            apply(scratch, posting)
            made.append(entry)
            prev, seq = entry.hash, seq + 1
        self._entries.extend(made)
        self._balances.update(touched)
        return made
