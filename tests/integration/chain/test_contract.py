"""The contract's rules, on a real EVM node: stake, write-once seals, slashes, disputes."""

from __future__ import annotations

import hashlib

import pytest

from swarmgen.chain.node import advance
from swarmgen.chain.port import ChainError, ChainSeal, SlashClaim, key32
from swarmgen.chain.receipts import ChainReceipt
from swarmgen.core.signing import KeyPair

from .conftest import BOND, UNLOCK_S, WINDOW_S, Deployed

ETH = 10**18


def _seal(epoch: int, fill: int = 1) -> ChainSeal:
    return ChainSeal(epoch, bytes([fill]) * 32, bytes([fill + 1]) * 32, 7)


def _refused(reason: str) -> pytest.RaisesExc[ChainError]:
    return pytest.raises(ChainError, match=reason)


def _receipt(worker: KeyPair, output: bytes) -> ChainReceipt:
    job = "job-1"
    signature = worker.sign(job.encode() + output)
    return ChainReceipt.of(job, worker.public_key, output.hex(), signature)


def _claim(receipt: ChainReceipt, claimed: bytes, amount: int = ETH, epoch: int = 1) -> SlashClaim:
    return SlashClaim(
        worker=receipt.worker,
        amount=amount,
        epoch=epoch,
        evidence=hashlib.sha256(b"evidence").digest(),
        receipt_digest=receipt.digest,
        job=receipt.job,
        claimed_output=claimed,
        consensus_output=b"\x0c" * 32,
    )


def _staked(d: Deployed, worker: KeyPair, amount: int = 2 * ETH) -> bytes:
    key = key32(worker.public_key)
    d.worker_owner.deposit(key, amount)
    return key


def test_coordinator_needs_the_bond_and_registers_once(deployed: Deployed) -> None:
    coordinator = deployed.coordinator
    with _refused("BondTooSmall"):
        coordinator.register_coordinator(b"\x01" * 32, BOND - 1)
    coordinator.register_coordinator(b"\x01" * 32, BOND)
    assert coordinator.is_coordinator(coordinator.address)
    assert coordinator.coordinator_of(b"\x01" * 32) == coordinator.address
    assert coordinator.coordinator_of(b"\x02" * 32) is None
    with _refused("AlreadyRegistered"):
        coordinator.register_coordinator(b"\x01" * 32, BOND)
    with _refused("KeyTaken"):  # nobody else may claim a coordinator's ledger key
        deployed.stranger.register_coordinator(b"\x01" * 32, BOND)


def test_seals_are_written_once_and_only_by_a_coordinator(deployed: Deployed) -> None:
    with _refused("NotCoordinator"):
        deployed.stranger.post_seal(_seal(1))
    coordinator = deployed.coordinator
    coordinator.register_coordinator(b"\x01" * 32, BOND)
    coordinator.post_seal(_seal(1))
    assert coordinator.seal_of(coordinator.address, 1) == _seal(1)
    with _refused("AlreadySealed"):
        coordinator.post_seal(_seal(1, fill=9))  # a rewrite is refused
    assert coordinator.seal_of(coordinator.address, 1) == _seal(1)
    assert coordinator.seal_of(coordinator.address, 2) is None
    assert coordinator.seal_of(deployed.stranger.address, 1) is None


def test_stake_unlocks_only_after_the_delay(deployed: Deployed) -> None:
    owner = deployed.worker_owner
    key = _staked(deployed, KeyPair.generate())
    with _refused("NotOwner"):
        deployed.stranger.deposit(key, ETH)  # the first depositor owns the stake
    with _refused("NotOwner"):
        deployed.stranger.request_unlock(key, ETH)
    with _refused("TooMuch"):
        owner.request_unlock(key, 3 * ETH)
    owner.request_unlock(key, ETH)
    info = owner.stake_of(key)
    assert (info.owner, info.locked, info.unbonding) == (owner.address, ETH, ETH)
    with _refused("StillLocked"):
        owner.withdraw(key)
    advance(deployed.rpc_url, UNLOCK_S)
    before = owner.w3.eth.get_balance(owner.address)
    owner.withdraw(key)
    assert owner.w3.eth.get_balance(owner.address) > before
    assert owner.stake_of(key).unbonding == 0
    with _refused("NothingToDo"):
        owner.withdraw(key)


def _slash_setup(
    deployed: Deployed, claimed_output: bytes | None = None
) -> tuple[KeyPair, ChainReceipt, int]:
    coordinator = deployed.coordinator
    coordinator.register_coordinator(b"\x01" * 32, BOND)
    worker = KeyPair.generate()
    _staked(deployed, worker)
    receipt = _receipt(worker, b"\x0b" * 32)
    with _refused("NotSealed"):
        coordinator.propose_slash(_claim(receipt, receipt.output))
    coordinator.post_seal(_seal(1))
    slash_id = coordinator.propose_slash(_claim(receipt, claimed_output or receipt.output))
    return worker, receipt, slash_id


def test_a_slash_waits_out_the_window_and_blocks_withdrawal(deployed: Deployed) -> None:
    owner, coordinator = deployed.worker_owner, deployed.coordinator
    _worker, receipt, slash_id = _slash_setup(deployed)
    owner.request_unlock(receipt.worker, 2 * ETH)  # trying to run with the stake
    with _refused("WindowOpen"):
        deployed.stranger.execute_slash(slash_id)
    advance(deployed.rpc_url, WINDOW_S)
    with _refused("WindowClosed"):
        owner.dispute(slash_id, receipt.encode())
    advance(deployed.rpc_url, UNLOCK_S)
    with _refused("SlashPending"):
        owner.withdraw(receipt.worker)
    deployed.stranger.execute_slash(slash_id)  # anyone may execute once the window passed
    assert coordinator.slash_state(slash_id) == "executed"
    info = coordinator.stake_of(receipt.worker)
    assert (info.locked, info.unbonding, info.pending_slashes) == (0, ETH, 0)
    with _refused("NotPending"):
        coordinator.execute_slash(slash_id)
    owner.withdraw(receipt.worker)


def test_a_slash_must_claim_an_output_other_than_consensus(deployed: Deployed) -> None:
    deployed.coordinator.register_coordinator(b"\x01" * 32, BOND)
    deployed.coordinator.post_seal(_seal(1))
    worker = KeyPair.generate()
    _staked(deployed, worker)
    receipt = _receipt(worker, b"\x0c" * 32)
    with _refused("BadSlash"):
        deployed.coordinator.propose_slash(_claim(receipt, b"\x0c" * 32))
    with _refused("BadSlash"):
        deployed.coordinator.propose_slash(_claim(receipt, b"\x0b" * 32, amount=3 * ETH))


def test_the_receipt_the_coordinator_misquoted_cancels_the_slash(deployed: Deployed) -> None:
    """The worker's receipt agreed with consensus; the coordinator claimed another output."""
    owner, coordinator = deployed.worker_owner, deployed.coordinator
    worker = KeyPair.generate()
    coordinator.register_coordinator(b"\x01" * 32, BOND)
    coordinator.post_seal(_seal(1))
    _staked(deployed, worker)
    honest = _receipt(worker, b"\x0c" * 32)  # what the worker signed: the consensus output
    slash_id = coordinator.propose_slash(_claim(honest, b"\x0b" * 32))
    with _refused("NotOwner"):
        deployed.stranger.dispute(slash_id, honest.encode())
    forged = ChainReceipt(honest.job, honest.worker, b"\x0d" * 32, honest.signature)
    with _refused("WrongReceipt"):
        owner.dispute(slash_id, forged.encode())  # only the committed receipt counts
    owner.dispute(slash_id, honest.encode())
    assert coordinator.slash_state(slash_id) == "cancelled"
    info = coordinator.stake_of(honest.worker)
    assert info.locked == 3 * ETH  # its stake, and the slashed amount out of the bond
    assert info.pending_slashes == 0
    with _refused("NotPending"):
        coordinator.execute_slash(slash_id)


def test_a_receipt_that_says_what_was_claimed_does_not_refute(deployed: Deployed) -> None:
    owner = deployed.worker_owner
    _worker, receipt, slash_id = _slash_setup(deployed)
    with _refused("DisputeRejected"):
        owner.dispute(slash_id, receipt.encode())
    assert owner.slash_state(slash_id) == "pending"


def test_a_verdict_is_slashed_once(deployed: Deployed) -> None:
    _worker, receipt, slash_id = _slash_setup(deployed)
    claim = _claim(receipt, receipt.output, amount=1)
    coordinator = deployed.coordinator
    assert coordinator.slash_id_of(coordinator.address, claim.evidence) == slash_id
    assert coordinator.slash_id_of(coordinator.address, b"\x00" * 32) is None
    with _refused("AlreadyProposed"):
        coordinator.propose_slash(claim)


def test_stake_and_slashes_read_as_of_a_block(deployed: Deployed) -> None:
    """What a coordinator's draw reads: the contract's state at a pinned block."""
    owner, reader = deployed.worker_owner, deployed.stranger
    w3 = reader.w3
    _worker, receipt, slash_id = _slash_setup(deployed)
    before = int(w3.eth.block_number)
    stamp = int(w3.eth.get_block(before)["timestamp"])
    advance(deployed.rpc_url, 100)  # the next blocks are stamped later
    owner.deposit(receipt.worker, ETH)
    advance(deployed.rpc_url, WINDOW_S)
    reader.execute_slash(slash_id)
    assert reader.block_at(stamp) == before
    assert reader.block_at(stamp + 99) == before
    assert reader.block_at(int(w3.eth.get_block(0)["timestamp"]) - 1) is None
    past, now = reader.stake_of(receipt.worker, before), reader.stake_of(receipt.worker)
    assert (past.locked, past.pending_slashes) == (2 * ETH, 1)
    assert (now.locked, now.pending_slashes) == (2 * ETH, 0)  # 3 ETH less the 1 ETH slash
    (then,) = reader.slashes_against(receipt.worker, before)
    (later,) = reader.slashes_against(receipt.worker)
    assert (then.id, then.state, later.state) == (slash_id, "pending", "executed")
    assert then.coordinator == deployed.coordinator.address and then.amount == ETH
    assert reader.slashes_against(key32(KeyPair.generate().public_key)) == []
