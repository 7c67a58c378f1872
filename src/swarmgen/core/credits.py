"""Credit movements of a job's life and between users, as functions producing postings.

Reserve before spend: :func:`reserve` moves a job's price into the job's escrow at
submit; :func:`complete` turns the escrow into the worker's pending earnings (less the
validation fee); :func:`refund` gives it back on failure, cancel or expiry. Each function
reads the balances it needs and returns the postings to record, or raises: it never
returns postings that would make a balance negative.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from swarmgen.core import accounts
from swarmgen.core.ledger import EntryKind, Posting
from swarmgen.core.receipts import Receipt
from swarmgen.errors import Conflict, FieldProblem, InsufficientCredits, InvalidRequest

PPM = 1_000_000
"""Parts per million: the unit of every configured share."""

REQUESTER = "requester"
"""Memo key naming the account that paid for a job (on reserve and release entries)."""


class RefundReason(StrEnum):
    """Why a job's escrow went back to its requester."""

    FAILED = "failed"
    """The job could not be completed (e.g. too many lease expiries)."""
    CANCELLED = "cancelled"
    """The requester withdrew the job."""
    EXPIRED = "expired"
    """The job waited longer than its deadline without a worker."""


def require_funds(balance: int, price: int) -> None:
    """Raise :class:`InsufficientCredits` with the shortfall unless ``balance`` covers ``price``."""
    if balance < price:
        raise InsufficientCredits(
            f"balance {balance} does not cover {price}",
            balance=balance,
            price=price,
            shortfall=price - balance,
        )


def _positive(name: str, amount: int) -> None:
    if type(amount) is not int or amount <= 0:
        raise InvalidRequest(FieldProblem(name, "must be a positive integer of micro-credits"))


def grant(user_id: str, amount: int, reason: str = "grant") -> Posting:
    """Mint ``amount`` new credits to a user."""
    _positive("amount", amount)
    return Posting(
        EntryKind.GRANT, accounts.MINT, accounts.user(user_id), amount, memo={"reason": reason}
    )


def transfer(balances: Mapping[str, int], sender: str, recipient: str, amount: int) -> Posting:
    """Move ``amount`` from user ``sender`` to user ``recipient``."""
    _positive("amount", amount)
    source, target = accounts.user(sender), accounts.user(recipient)
    if source == target:
        raise InvalidRequest(FieldProblem("recipient", "must differ from the sender"))
    require_funds(balances.get(source, 0), amount)
    return Posting(EntryKind.TRANSFER, source, target, amount)


def reserve(balances: Mapping[str, int], requester: str, job_id: str, price: int) -> Posting:
    """Move a job's price from its requester into the job's escrow."""
    _positive("price", price)
    source, target = accounts.user(requester), accounts.escrow(job_id)
    if balances.get(target, 0):
        raise Conflict(f"job {job_id} already holds a reservation", job_id=job_id)
    require_funds(balances.get(source, 0), price)
    return Posting(
        EntryKind.RESERVE, source, target, price, job_id=job_id, memo={REQUESTER: source}
    )


def _held(balances: Mapping[str, int], job_id: str) -> int:
    held = balances.get(accounts.escrow(job_id), 0)
    if held <= 0:
        raise Conflict(f"job {job_id} holds no escrow (already settled?)", job_id=job_id)
    return held


def validator_fee(amount: int, fee_ppm: int) -> int:
    """The validation share of ``amount``: ``fee_ppm`` millionths, rounded down."""
    if not 0 <= fee_ppm <= PPM:
        raise ValueError("fee_ppm must be within 0..1_000_000")
    return amount * fee_ppm // PPM


def complete(
    balances: Mapping[str, int],
    job_id: str,
    requester: str,
    receipt: Receipt,
    fee_ppm: int,
) -> tuple[Posting, ...]:
    """A job completed by ``receipt.worker_id``: its escrow becomes the worker's pending
    earnings, less the validation fee to the validator pool.

    The receipt is embedded in the release entry; a receipt for another job, or one whose
    signature does not verify, is refused.
    """
    if receipt.job_id != job_id:
        raise InvalidRequest(FieldProblem("receipt.job_id", "is not this job"))
    if not receipt.verify():
        raise InvalidRequest(FieldProblem("receipt.signature", "does not verify"))
    held = _held(balances, job_id)
    escrow = accounts.escrow(job_id)
    fee = validator_fee(held, fee_ppm)
    memo = {REQUESTER: accounts.user(requester)}
    out: list[Posting] = []
    if held - fee:
        out.append(
            Posting(
                EntryKind.RELEASE,
                escrow,
                accounts.worker(receipt.worker_id),
                held - fee,
                job_id=job_id,
                memo=memo,
                receipt=receipt,
            )
        )
    if fee:
        out.append(
            Posting(EntryKind.VALIDATOR_FEE, escrow, accounts.VALIDATOR_POOL, fee, job_id=job_id)
        )
    return tuple(out)


def refund(
    balances: Mapping[str, int], job_id: str, requester: str, reason: RefundReason
) -> Posting:
    """Give a job's whole escrow back to its requester."""
    held = _held(balances, job_id)
    return Posting(
        EntryKind.REFUND,
        accounts.escrow(job_id),
        accounts.user(requester),
        held,
        job_id=job_id,
        memo={"reason": reason.value},
    )
