import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core import accounts, credits
from swarmgen.core.credits import PPM, RefundReason
from swarmgen.core.ledger import EntryKind, Ledger
from swarmgen.core.receipts import Receipt
from swarmgen.core.signing import KeyPair
from swarmgen.errors import Conflict, InsufficientCredits, InvalidRequest

WORKER = KeyPair.from_seed(b"k" * 32)


def _receipt(job_id: str, keys: KeyPair = WORKER) -> Receipt:
    return Receipt.signed(
        keys,
        job_id=job_id,
        input_digest="i",
        output_digest="o",
        artifact_digest="a",
        timings={"run_ms": 10},
    )


def _funded(amount: int) -> Ledger:
    ledger = Ledger()
    ledger.append([credits.grant("alice", amount)], epoch=0)
    return ledger


def test_reserve_refuses_with_the_shortfall() -> None:
    ledger = _funded(100)
    with pytest.raises(InsufficientCredits) as caught:
        credits.reserve(ledger.balances, "alice", "j1", 130)
    assert caught.value.status == 402
    assert caught.value.details == {"balance": 100, "price": 130, "shortfall": 30}


@given(price=st.integers(1, 10**9), fee_ppm=st.integers(0, PPM))
def test_completion_moves_the_whole_escrow(price: int, fee_ppm: int) -> None:
    ledger = _funded(price)
    ledger.append([credits.reserve(ledger.balances, "alice", "j1", price)], epoch=0)
    assert ledger.balance(accounts.escrow("j1")) == price
    receipt = _receipt("j1")
    made = ledger.append(credits.complete(ledger.balances, "j1", "alice", receipt, fee_ppm), 0)
    pending = ledger.balance(accounts.worker(WORKER.public_key))
    pool = ledger.balance(accounts.VALIDATOR_POOL)
    assert ledger.balance(accounts.escrow("j1")) == 0
    assert pending + pool == price
    assert pool == price * fee_ppm // PPM
    release = [e.posting for e in made if e.kind is EntryKind.RELEASE]
    assert [p.receipt for p in release] == ([receipt] if pending else [])
    assert all(p.memo["requester"] == accounts.user("alice") for p in release)
    assert ledger.totals().conserved


def test_escrow_settles_once() -> None:
    ledger = _funded(50)
    ledger.append([credits.reserve(ledger.balances, "alice", "j1", 50)], epoch=0)
    with pytest.raises(Conflict):
        credits.reserve(ledger.balances, "alice", "j1", 1)
    ledger.append([credits.refund(ledger.balances, "j1", "alice", RefundReason.CANCELLED)], 0)
    assert ledger.balance(accounts.user("alice")) == 50
    with pytest.raises(Conflict):
        credits.refund(ledger.balances, "j1", "alice", RefundReason.EXPIRED)
    with pytest.raises(Conflict):
        credits.complete(ledger.balances, "j1", "alice", _receipt("j1"), 0)


def test_completion_needs_a_valid_receipt_for_this_job() -> None:
    ledger = _funded(50)
    ledger.append([credits.reserve(ledger.balances, "alice", "j1", 50)], epoch=0)
    with pytest.raises(InvalidRequest):
        credits.complete(ledger.balances, "j1", "alice", _receipt("j2"), 0)
    forged = dataclasses.replace(_receipt("j1"), timings={"run_ms": 1})
    with pytest.raises(InvalidRequest):
        credits.complete(ledger.balances, "j1", "alice", forged, 0)


def test_transfer_and_grant_validate_amounts() -> None:
    ledger = _funded(10)
    with pytest.raises(InsufficientCredits):
        credits.transfer(ledger.balances, "alice", "bob", 11)
    with pytest.raises(InvalidRequest):
        credits.transfer(ledger.balances, "alice", "alice", 1)
    for bad in (0, -5):
        with pytest.raises(InvalidRequest):
            credits.grant("alice", bad)
    ledger.append([credits.transfer(ledger.balances, "alice", "bob", 10)], epoch=0)
    assert ledger.balance(accounts.user("bob")) == 10
    assert ledger.balance(accounts.user("alice")) == 0
