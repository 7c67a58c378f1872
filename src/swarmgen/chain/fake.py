"""The chain port in memory: the contract's rules in Python, for unit tests.

:class:`FakeNetwork` is the contract's state and a clock in seconds; each
:class:`FakeChain` is one account's view of it. It refuses what the contract refuses,
with the contract's error names, and ``fail_next`` makes the next writes fail as a node
that does not answer would, so retry paths can be tested without a node.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from swarmgen.chain.port import ChainError, ChainSeal, SlashClaim, SlashRecord, StakeInfo
from swarmgen.chain.receipts import ChainReceipt


def _refuse(name: str) -> ChainError:
    return ChainError(f"the contract refused: {name}", reason=name)


@dataclass
class _Slash:
    coordinator: str
    claim: SlashClaim
    executable_at: int
    state: str = "pending"


@dataclass(frozen=True)
class _Block:
    """The state readers ask about as of a block: stakes and slash states."""

    time_s: int
    stakes: dict[bytes, StakeInfo]
    slash_states: dict[int, str]


@dataclass
class FakeNetwork:
    min_bond: int = 1
    unlock_delay_s: int = 3_600
    challenge_window_s: int = 600
    now_s: int = 1_700_000_000
    bonds: dict[str, int] = field(default_factory=dict)
    keys: dict[bytes, str] = field(default_factory=dict)
    stakes: dict[bytes, StakeInfo] = field(default_factory=dict)
    seals: dict[tuple[str, int], ChainSeal] = field(default_factory=dict)
    slashes: dict[int, _Slash] = field(default_factory=dict)
    fail_next: int = 0
    """How many of the next writes fail as if the node were unreachable."""
    posts: int = 0
    """Writes that reached the chain (tests count them)."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    blocks: list[_Block] = field(default_factory=list)
    """One block per write (the genesis block first), as a node that mines each
    transaction at once: what ``block_at`` and reads ``as of`` a block see."""

    def __post_init__(self) -> None:
        self.mine()

    def mine(self) -> None:
        states = {i: slash.state for i, slash in self.slashes.items()}
        self.blocks.append(_Block(self.now_s, dict(self.stakes), states))

    def view(self, address: str) -> FakeChain:
        return FakeChain(self, address)

    def advance(self, seconds: int) -> None:
        self.now_s += seconds


class FakeChain:
    """One account's view of a :class:`FakeNetwork` (see the port)."""

    def __init__(self, network: FakeNetwork, address: str) -> None:
        self.net = network
        self._address = address

    @property
    def address(self) -> str:
        return self._address

    def _write(self) -> str:
        if self.net.fail_next > 0:
            self.net.fail_next -= 1
            raise ChainError("no EVM node answers (fake outage)")
        self.net.posts += 1
        return f"0x{self.net.posts:064x}"

    def _stake(self, worker: bytes) -> StakeInfo:
        return self.net.stakes.get(worker, StakeInfo(None, 0, 0, 0, 0))

    def register_coordinator(self, ledger_key: bytes, bond: int) -> str:
        if self._address in self.net.bonds:
            raise _refuse("AlreadyRegistered")
        if bond < self.net.min_bond:
            raise _refuse("BondTooSmall")
        if ledger_key in self.net.keys:
            raise _refuse("KeyTaken")
        tx = self._write()
        self.net.bonds[self._address] = bond
        self.net.keys[ledger_key] = self._address
        self.net.mine()
        return tx

    def is_coordinator(self, address: str) -> bool:
        return address in self.net.bonds

    def post_seal(self, seal: ChainSeal) -> str:
        if self._address not in self.net.bonds:
            raise _refuse("NotCoordinator")
        if (self._address, seal.epoch) in self.net.seals:
            raise _refuse("AlreadySealed")
        tx = self._write()
        self.net.seals[(self._address, seal.epoch)] = seal
        self.net.mine()
        return tx

    def coordinator_of(self, ledger_key: bytes) -> str | None:
        return self.net.keys.get(ledger_key)

    def seal_of(self, coordinator: str, epoch: int) -> ChainSeal | None:
        return self.net.seals.get((coordinator, epoch))

    def deposit(self, worker: bytes, amount: int) -> str:
        s = self._stake(worker)
        if amount <= 0:
            raise _refuse("NothingToDo")
        if s.owner not in (None, self._address):
            raise _refuse("NotOwner")
        tx = self._write()
        self.net.stakes[worker] = StakeInfo(
            self._address, s.locked + amount, s.unbonding, s.unlock_at, s.pending_slashes
        )
        self.net.mine()
        return tx

    def request_unlock(self, worker: bytes, amount: int) -> str:
        s = self._stake(worker)
        if s.owner != self._address:
            raise _refuse("NotOwner")
        if amount <= 0:
            raise _refuse("NothingToDo")
        if amount > s.locked:
            raise _refuse("TooMuch")
        tx = self._write()
        unlock_at = self.net.now_s + self.net.unlock_delay_s
        self.net.stakes[worker] = StakeInfo(
            s.owner, s.locked - amount, s.unbonding + amount, unlock_at, s.pending_slashes
        )
        self.net.mine()
        return tx

    def withdraw(self, worker: bytes) -> str:
        s = self._stake(worker)
        if s.owner != self._address:
            raise _refuse("NotOwner")
        if s.unbonding == 0:
            raise _refuse("NothingToDo")
        if self.net.now_s < s.unlock_at:
            raise _refuse("StillLocked")
        if s.pending_slashes:
            raise _refuse("SlashPending")
        tx = self._write()
        self.net.stakes[worker] = StakeInfo(s.owner, s.locked, 0, s.unlock_at, 0)
        self.net.mine()
        return tx

    def stake_of(self, worker: bytes, block: int | None = None) -> StakeInfo:
        if block is None:
            return self._stake(worker)
        return self.net.blocks[block].stakes.get(worker, StakeInfo(None, 0, 0, 0, 0))

    def slashes_against(self, worker: bytes, block: int | None = None) -> list[SlashRecord]:
        states = None if block is None else self.net.blocks[block].slash_states
        return [
            SlashRecord(i, s.coordinator, worker, s.claim.amount, s.claim.epoch, state)
            for i, s in sorted(self.net.slashes.items())
            if s.claim.worker == worker
            if (state := s.state if states is None else states.get(i)) is not None
        ]

    def block_at(self, timestamp_s: int) -> int | None:
        found = None
        for number, block in enumerate(self.net.blocks):
            if block.time_s <= timestamp_s:
                found = number
        return found

    def propose_slash(self, claim: SlashClaim) -> int:
        if self._address not in self.net.bonds:
            raise _refuse("NotCoordinator")
        if (self._address, claim.epoch) not in self.net.seals:
            raise _refuse("NotSealed")
        s = self._stake(claim.worker)
        if not 0 < claim.amount <= s.slashable or claim.claimed_output == claim.consensus_output:
            raise _refuse("BadSlash")
        if self.slash_id_of(self._address, claim.evidence) is not None:
            raise _refuse("AlreadyProposed")
        self._write()
        slash_id = next(self.net._ids)
        window_end = self.net.now_s + self.net.challenge_window_s
        self.net.slashes[slash_id] = _Slash(self._address, claim, window_end)
        self.net.stakes[claim.worker] = StakeInfo(
            s.owner, s.locked, s.unbonding, s.unlock_at, s.pending_slashes + 1
        )
        self.net.mine()
        return slash_id

    def _pending(self, slash_id: int) -> _Slash:
        slash = self.net.slashes.get(slash_id)
        if slash is None or slash.state != "pending":
            raise _refuse("NotPending")
        return slash

    def execute_slash(self, slash_id: int) -> str:
        slash = self._pending(slash_id)
        if self.net.now_s < slash.executable_at:
            raise _refuse("WindowOpen")
        tx = self._write()
        s = self._stake(slash.claim.worker)
        from_locked = min(slash.claim.amount, s.locked)
        from_unbonding = min(slash.claim.amount - from_locked, s.unbonding)
        self.net.stakes[slash.claim.worker] = StakeInfo(
            s.owner,
            s.locked - from_locked,
            s.unbonding - from_unbonding,
            s.unlock_at,
            s.pending_slashes - 1,
        )
        slash.state = "executed"
        self.net.mine()
        return tx

    def dispute(self, slash_id: int, receipt: bytes) -> str:
        slash = self._pending(slash_id)
        claim = slash.claim
        if self.net.now_s >= slash.executable_at:
            raise _refuse("WindowClosed")
        s = self._stake(claim.worker)
        if s.owner != self._address:
            raise _refuse("NotOwner")
        shown = ChainReceipt.decode(receipt)
        if shown.digest != claim.receipt_digest:
            raise _refuse("WrongReceipt")
        if (shown.job, shown.worker, shown.output) == (
            claim.job,
            claim.worker,
            claim.claimed_output,
        ):
            raise _refuse("DisputeRejected")
        tx = self._write()
        penalty = min(claim.amount, self.net.bonds[slash.coordinator])
        self.net.bonds[slash.coordinator] -= penalty
        self.net.stakes[claim.worker] = StakeInfo(
            s.owner, s.locked + penalty, s.unbonding, s.unlock_at, s.pending_slashes - 1
        )
        slash.state = "cancelled"
        self.net.mine()
        return tx

    def slash_id_of(self, coordinator: str, evidence: bytes) -> int | None:
        for slash_id, slash in self.net.slashes.items():
            if slash.coordinator == coordinator and slash.claim.evidence == evidence:
                return slash_id
        return None

    def slash_state(self, slash_id: int) -> str:
        slash = self.net.slashes.get(slash_id)
        return "none" if slash is None else slash.state
