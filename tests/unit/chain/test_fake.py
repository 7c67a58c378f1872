"""The fake chain refuses what the contract refuses (the same cases as
``tests/integration/chain/test_contract.py``, on the fake)."""

from __future__ import annotations

import hashlib

import pytest

from swarmgen.chain.fake import FakeNetwork
from swarmgen.chain.port import ChainError, ChainSeal, SlashClaim, key32
from swarmgen.chain.receipts import ChainReceipt
from swarmgen.core.signing import KeyPair


def _claim(receipt: ChainReceipt, claimed: bytes) -> SlashClaim:
    return SlashClaim(
        receipt.worker,
        10,
        1,
        hashlib.sha256(receipt.digest).digest(),
        receipt.digest,
        receipt.job,
        claimed,
        b"\x0c" * 32,
    )


def test_slash_dispute_and_withdrawal_rules() -> None:
    net = FakeNetwork(min_bond=5)
    coordinator, owner, stranger = net.view("0xc"), net.view("0xo"), net.view("0xs")
    coordinator.register_coordinator(b"\x01" * 32, 5)
    coordinator.post_seal(ChainSeal(1, b"\x01" * 32, b"\x02" * 32, 1))
    worker = KeyPair.generate()
    key = key32(worker.public_key)
    owner.deposit(key, 20)
    honest = ChainReceipt.of("j", worker.public_key, "0c" * 32, worker.sign(b"j"))
    misquoted = coordinator.propose_slash(_claim(honest, b"\x0b" * 32))
    with pytest.raises(ChainError, match="NotOwner"):
        stranger.dispute(misquoted, honest.encode())
    owner.dispute(misquoted, honest.encode())
    assert owner.slash_state(misquoted) == "cancelled"
    assert owner.stake_of(key).locked == 25  # the bond paid what the slash tried to take

    cheat = ChainReceipt.of("j", worker.public_key, "0b" * 32, worker.sign(b"j"))
    fair = coordinator.propose_slash(_claim(cheat, b"\x0b" * 32))
    with pytest.raises(ChainError, match="DisputeRejected"):
        owner.dispute(fair, cheat.encode())
    owner.request_unlock(key, 25)
    net.advance(net.unlock_delay_s)
    with pytest.raises(ChainError, match="SlashPending"):
        owner.withdraw(key)
    stranger.execute_slash(fair)
    assert owner.stake_of(key).slashable == 15
    owner.withdraw(key)
