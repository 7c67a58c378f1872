"""The chain port on web3.py, against the deployed ``SwarmgenStake`` contract.

Every write is signed locally with the account's private key and waited for: a call
returns once its transaction is mined, and raises :class:`ChainError` naming the
contract's custom error when the transaction would revert (checked with ``eth_call``
first, so a refused write costs no gas and leaves no nonce gap).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import BlockIdentifier

from swarmgen.chain.port import ChainError, ChainSeal, SlashClaim, SlashRecord, StakeInfo

_ZERO = "0x" + "00" * 20
_STATES = ("none", "pending", "executed", "cancelled")


@cache
def artifact() -> dict[str, Any]:
    """The compiled contract (ABI and creation bytecode), built by ``chain/compile.js``."""
    text = resources.files("swarmgen.chain").joinpath("artifact.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _error_names() -> dict[str, str]:
    """Custom-error selector (0x + 8 hex) to its name, for readable refusals."""
    names = {}
    for item in artifact()["abi"]:
        if item["type"] == "error":
            signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            names["0x" + keccak(text=signature)[:4].hex()] = item["name"]
    return names


def _refusal(exc: Exception) -> ChainError:
    data = getattr(exc, "data", None) or (exc.args[0] if exc.args else "")
    text = str(data)
    for selector, name in _error_names().items():
        if text.startswith(selector):
            return ChainError(f"the contract refused: {name}", reason=name)
    return ChainError(f"the contract refused: {exc}", reason=str(exc))


def connect(rpc_url: str, timeout_s: float = 10.0) -> Web3:
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
    if not w3.is_connected():
        raise ChainError(f"no EVM node answers at {rpc_url}", rpc_url=rpc_url)
    return w3


class EvmChain:
    """One account's view of the contract at ``contract_address`` (see the port)."""

    def __init__(
        self,
        w3: Web3,
        contract_address: str,
        private_key: str | None = None,
        *,
        from_block: int = 0,
    ) -> None:
        self.w3 = w3
        self.from_block = from_block
        """Where event scans start (the contract's deployment block spares a public node
        the scan of the chain before it)."""
        self.contract: Contract = w3.eth.contract(
            address=Web3.to_checksum_address(contract_address), abi=artifact()["abi"]
        )
        self.account: LocalAccount | None = (
            Account.from_key(private_key) if private_key is not None else None
        )
        self.last_gas = 0
        """Gas used by the last transaction this view sent (for benches and reports)."""

    @classmethod
    def deploy(
        cls,
        w3: Web3,
        private_key: str,
        *,
        min_bond: int,
        unlock_delay_s: int,
        challenge_window_s: int,
    ) -> EvmChain:
        """Deploy a fresh contract from ``private_key``'s account; a view on it from there."""
        account: LocalAccount = Account.from_key(private_key)
        factory = w3.eth.contract(abi=artifact()["abi"], bytecode=artifact()["bytecode"])
        tx = factory.constructor(min_bond, unlock_delay_s, challenge_window_s).build_transaction(
            {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address)}
        )
        receipt = _send(w3, account, tx)
        chain = cls(w3, receipt["contractAddress"], private_key)
        chain.last_gas = int(receipt["gasUsed"])
        return chain

    @property
    def address(self) -> str:
        if self.account is None:
            raise ChainError("this chain view has no account to send from")
        return str(self.account.address)

    # writes -----------------------------------------------------------------------

    def _transact(self, function: Any, value: int = 0) -> Any:
        if self.account is None:
            raise ChainError("this chain view has no account to send from")
        sender = self.account.address
        call = {"from": sender, "value": value}
        try:
            # against the pending block: the next block's time, not the last one's (a
            # node that mines only on demand would otherwise hold a window open forever)
            function.call(call, block_identifier="pending")
            gas = function.estimate_gas(call, block_identifier="pending")
        except (ContractCustomError, ContractLogicError) as exc:
            raise _refusal(exc) from None
        nonce = self.w3.eth.get_transaction_count(sender, "pending")
        tx = function.build_transaction({**call, "gas": gas, "nonce": nonce})
        receipt = _send(self.w3, self.account, tx)
        self.last_gas = int(receipt["gasUsed"])
        return receipt

    def register_coordinator(self, ledger_key: bytes, bond: int) -> str:
        fn = self.contract.functions.registerCoordinator(ledger_key)
        return _hash(self._transact(fn, bond))

    def post_seal(self, seal: ChainSeal) -> str:
        fn = self.contract.functions.postSeal(seal.epoch, seal.root, seal.head_hash, seal.count)
        return _hash(self._transact(fn))

    def deposit(self, worker: bytes, amount: int) -> str:
        return _hash(self._transact(self.contract.functions.deposit(worker), amount))

    def request_unlock(self, worker: bytes, amount: int) -> str:
        return _hash(self._transact(self.contract.functions.requestUnlock(worker, amount)))

    def withdraw(self, worker: bytes) -> str:
        return _hash(self._transact(self.contract.functions.withdraw(worker)))

    def propose_slash(self, claim: SlashClaim) -> int:
        args = (
            claim.worker,
            claim.amount,
            claim.epoch,
            claim.evidence,
            claim.receipt_digest,
            claim.job,
            claim.claimed_output,
            claim.consensus_output,
        )
        receipt = self._transact(self.contract.functions.proposeSlash(args))
        (event,) = self.contract.events.SlashProposed().process_receipt(receipt)
        return int(event["args"]["id"])

    def execute_slash(self, slash_id: int) -> str:
        return _hash(self._transact(self.contract.functions.executeSlash(slash_id)))

    def dispute(self, slash_id: int, receipt: bytes) -> str:
        return _hash(self._transact(self.contract.functions.dispute(slash_id, receipt)))

    # reads ------------------------------------------------------------------------

    def is_coordinator(self, address: str) -> bool:
        row = self.contract.functions.coordinators(Web3.to_checksum_address(address)).call()
        return bool(row[2])

    def coordinator_of(self, ledger_key: bytes) -> str | None:
        found = str(self.contract.functions.coordinatorByKey(ledger_key).call())
        return None if found == _ZERO else found

    def seal_of(self, coordinator: str, epoch: int) -> ChainSeal | None:
        fn = self.contract.functions.sealOf(Web3.to_checksum_address(coordinator), epoch)
        root, head, count, posted_at = fn.call()
        return ChainSeal(epoch, bytes(root), bytes(head), int(count)) if posted_at else None

    def stake_of(self, worker: bytes, block: int | None = None) -> StakeInfo:
        fn = self.contract.functions.stakes(worker)
        owner, locked, unbonding, unlock_at, pending = fn.call(block_identifier=_at(block))
        return StakeInfo(
            owner=None if owner == _ZERO else str(owner),
            locked=int(locked),
            unbonding=int(unbonding),
            unlock_at=int(unlock_at),
            pending_slashes=int(pending),
        )

    def slashes_against(self, worker: bytes, block: int | None = None) -> list[SlashRecord]:
        events = self.contract.events.SlashProposed().get_logs(
            argument_filters={"worker": worker}, from_block=self.from_block, to_block=_at(block)
        )
        records = []
        for event in sorted(events, key=lambda e: int(e["args"]["id"])):
            slash_id = int(event["args"]["id"])
            row = self.contract.functions.slashes(slash_id).call(block_identifier=_at(block))
            records.append(
                SlashRecord(
                    id=slash_id,
                    coordinator=str(row[0]),
                    worker=bytes(row[1]),
                    amount=int(row[2]),
                    epoch=int(row[3]),
                    state=_STATES[int(row[-1])],
                )
            )
        return records

    def block_at(self, timestamp_s: int) -> int | None:
        """Binary search over block timestamps (they never decrease)."""
        if int(self.w3.eth.get_block(0)["timestamp"]) > timestamp_s:
            return None
        low, high = 0, int(self.w3.eth.block_number)
        while low < high:
            middle = (low + high + 1) // 2
            if int(self.w3.eth.get_block(middle)["timestamp"]) <= timestamp_s:
                low = middle
            else:
                high = middle - 1
        return low

    def slash_id_of(self, coordinator: str, evidence: bytes) -> int | None:
        fn = self.contract.functions.slashIdOf(Web3.to_checksum_address(coordinator), evidence)
        found = int(fn.call())
        return found or None

    def slash_state(self, slash_id: int) -> str:
        return _STATES[int(self.contract.functions.slashes(slash_id).call()[-1])]


def _at(block: int | None) -> BlockIdentifier:
    return "latest" if block is None else block


def _send(w3: Web3, account: LocalAccount, tx: dict[str, Any]) -> Any:
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    if receipt["status"] != 1:
        raise ChainError(f"transaction {tx_hash.hex()} reverted", tx=tx_hash.hex())
    return receipt


def _hash(receipt: Any) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex()
