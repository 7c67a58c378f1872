"""Closing an epoch: forfeits, slashes, validator rewards, emission and payouts.

:func:`settle_epoch` is a pure function from the epoch's entries, the balances and the
verdicts to the postings that close the epoch, in this order:

1. every worker found invalid forfeits its pending earnings from the epoch's jobs, each
   refunded to that job's requester, and loses ``slash_ppm`` of its stake (burned); a
   job whose check was rejected is forfeited too and costs its worker ``slash_ppm`` of
   its stake on its own, whatever the epoch's verdict: a detected cheat is priced when it
   is detected, not only once enough of them add up to a verdict (the rule of
   :mod:`swarmgen.core.economics`); a job whose check was abandoned is refunded the
   same way, without a slash;
2. the validator pool is paid to the valid validators in proportion to their checks;
3. the emission pool is minted to valid workers (see :mod:`swarmgen.core.rewards`);
4. every valid worker's pending earnings are paid to its owner.

Invalid workers are paid nothing. The postings are checked against the balances as
they are produced, so a settlement never drives an account negative.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from swarmgen.core import accounts
from swarmgen.core.accounts import AccountKind
from swarmgen.core.credits import REQUESTER
from swarmgen.core.ledger import Entry, EntryKind, Posting, apply
from swarmgen.core.rewards import JobWork, SpeedBounds, WorkerWork, emission, split, worker_work
from swarmgen.core.stake import StakePolicy, slash
from swarmgen.core.verification.reliability import SeatRecord
from swarmgen.errors import SwarmgenError


class SettlementError(SwarmgenError):
    """An epoch cannot be settled from the inputs given (e.g. a worker without owner)."""

    code = "settlement_error"
    status = 500


@dataclass(frozen=True)
class EpochConfig:
    """Epoch length and reward settings; built from the coordinator's settings."""

    length_s: int
    """Seconds per epoch."""
    emission_per_epoch: int
    """Micro-credits minted at each close, at most (offerings without work mint nothing)."""
    offering_shares: Mapping[str, int]
    """Relative share of the emission per offering (``name@precision`` -> weight)."""
    validator_fee_ppm: int = 50_000
    """Share of each completed job's price that goes to the validator pool."""
    speed: SpeedBounds = field(default_factory=SpeedBounds)
    stake: StakePolicy = field(default_factory=StakePolicy)

    def __post_init__(self) -> None:
        if self.length_s <= 0 or self.emission_per_epoch < 0:
            raise ValueError("length_s must be positive and emission_per_epoch non-negative")
        if any(weight < 0 for weight in self.offering_shares.values()):
            raise ValueError("offering shares must be non-negative")


def epoch_at(timestamp_s: int, genesis_s: int, length_s: int) -> int:
    """The epoch a moment falls in; epoch 0 starts at ``genesis_s``."""
    return max(0, (timestamp_s - genesis_s) // length_s)


def epoch_start(epoch: int, genesis_s: int, length_s: int) -> int:
    """The first second of ``epoch``."""
    return genesis_s + epoch * length_s


class Judgement(Protocol):
    """A worker's verification outcome for the epoch, e.g. an epoch verdict from
    ``swarmgen.core.verification.verdicts``."""

    @property
    def invalid(self) -> bool: ...


@dataclass(frozen=True)
class Sanction:
    """A judgement made without statistics (an operator's decision, a proven fraud)."""

    invalid: bool = True
    reason: str = ""


class CheckState(StrEnum):
    """Where a completed job's check stands, as settlement needs it."""

    UNSAMPLED = "unsampled"
    """The draw at completion did not pick the job: nothing to wait for."""
    PENDING = "pending"
    UPHELD = "upheld"
    REJECTED = "rejected"
    ABANDONED = "abandoned"
    """No agreeing panel by the close after the job's epoch: counted for no one, the job
    refunded to its requester and its worker not paid for it, with no slash (neither a
    pass nor a conviction is handed out on a split or a lone voice)."""


@dataclass(frozen=True)
class Triage:
    """The held releases sorted by what this close does with them."""

    released: tuple[Entry, ...]
    held: tuple[Entry, ...]
    forfeited: tuple[Entry, ...]


def triage(
    releases: Iterable[Entry], checks: Mapping[str, CheckState], invalid: frozenset[str]
) -> Triage:
    """Sort releases into paid now, held on, and forfeited (see the module docstring).

    A job missing from ``checks`` is taken as unsampled. Other entries than releases are
    ignored, so the epoch's whole entry list may be passed.
    """
    released: list[Entry] = []
    held: list[Entry] = []
    forfeited: list[Entry] = []
    for entry in releases:
        if entry.kind is not EntryKind.RELEASE:
            continue
        state = checks.get(entry.job_id or "", CheckState.UNSAMPLED)
        worker_id = accounts.account_id(entry.posting.credit)
        if worker_id in invalid or state in (CheckState.REJECTED, CheckState.ABANDONED):
            forfeited.append(entry)
        elif state is CheckState.PENDING:
            held.append(entry)
        else:
            released.append(entry)
    return Triage(tuple(released), tuple(held), tuple(forfeited))


@dataclass(frozen=True)
class Settlement:
    """The postings that close an epoch, with a summary per worker."""

    postings: tuple[Posting, ...]
    forfeited: Mapping[str, int]
    slashed: Mapping[str, int]
    validator_rewards: Mapping[str, int]
    emitted: Mapping[str, int]
    paid: Mapping[str, int]
    jobs: Triage = field(default_factory=lambda: Triage((), (), ()))
    """Which jobs were paid, held on and forfeited at this close."""


class _Book:
    """Postings and the balances they lead to, checked one by one."""

    def __init__(self, balances: Mapping[str, int]) -> None:
        self.balances: ChainMap[str, int] = ChainMap({}, dict(balances))
        self.postings: list[Posting] = []

    def post(self, posting: Posting) -> None:
        posting.check()
        apply(self.balances, posting)
        self.postings.append(posting)

    def get(self, account: str) -> int:
        return self.balances.get(account, 0)


def _forfeit(book: _Book, entries: Iterable[Entry]) -> dict[str, int]:
    out: dict[str, int] = {}
    for entry in entries:
        posting = entry.posting
        worker_id = accounts.account_id(posting.credit)
        requester = posting.memo.get(REQUESTER)
        if not isinstance(requester, str):
            continue
        amount = min(posting.amount, book.get(posting.credit))
        if amount > 0:
            book.post(
                Posting(EntryKind.FORFEIT, posting.credit, requester, amount, job_id=entry.job_id)
            )
            out[worker_id] = out.get(worker_id, 0) + amount
    return out


def _pending_workers(book: _Book) -> list[str]:
    found = {
        accounts.account_id(name)
        for name, amount in book.balances.items()
        if amount > 0 and accounts.account_kind(name) is AccountKind.WORKER
    }
    return sorted(found)


def _held_by(entries: Iterable[Entry]) -> dict[str, int]:
    out: dict[str, int] = {}
    for entry in entries:
        worker_id = accounts.account_id(entry.posting.credit)
        out[worker_id] = out.get(worker_id, 0) + entry.posting.amount
    return out


def settle_epoch(
    releases: Sequence[Entry],
    balances: Mapping[str, int],
    config: EpochConfig,
    *,
    verdicts: Mapping[str, Judgement] | None = None,
    work: Iterable[WorkerWork] = (),
    checks: Mapping[str, int] | None = None,
    owners: Mapping[str, str],
    check_states: Mapping[str, CheckState] | None = None,
    job_work: Mapping[str, JobWork] | None = None,
    seats: Mapping[str, SeatRecord] | None = None,
) -> Settlement:
    """The postings that close an epoch.

    ``releases`` are the release entries not yet paid nor forfeited, from this epoch and
    earlier ones (other entries are ignored); ``check_states`` says where each one's
    check stands (missing: unsampled); ``verdicts`` map worker ids to their judgements;
    ``balances`` must hold every worker's pending balance, the validator pool and the
    stake of invalid workers; ``checks`` counts the validation jobs each worker ran in
    the epoch; ``owners`` maps worker ids to their owners' user ids (every worker paid
    must have one). Emission weighs ``work`` plus the ``job_work`` of the jobs released
    at this close (never of held or forfeited ones), each worker's weight scaled by its
    reliability at the validation seats of the epoch (``seats``).
    """
    invalid = frozenset(w for w, verdict in (verdicts or {}).items() if verdict.invalid)
    jobs = triage(releases, check_states or {}, invalid)
    book = _Book(balances)
    forfeited = _forfeit(book, jobs.forfeited)
    slashed: dict[str, int] = {}
    states = check_states or {}
    rejected = [
        accounts.account_id(e.posting.credit)
        for e in jobs.forfeited
        if states.get(e.job_id or "") is CheckState.REJECTED
    ]
    for worker_id in [*sorted(invalid), *sorted(rejected)]:
        for posting in slash(book.balances, worker_id, config.stake):
            book.post(posting)
            slashed[worker_id] = slashed.get(worker_id, 0) + posting.amount
    eligible = {w: n for w, n in (checks or {}).items() if n > 0 and w not in invalid}
    rewards = split(book.get(accounts.VALIDATOR_POOL), eligible)
    for worker_id, amount in sorted(rewards.items()):
        book.post(
            Posting(
                EntryKind.VALIDATOR_REWARD,
                accounts.VALIDATOR_POOL,
                accounts.worker(worker_id),
                amount,
                memo={"checks": eligible[worker_id]},
            )
        )
    emitted: dict[str, int] = {}
    per_job = job_work or {}
    settled = [per_job[e.job_id] for e in jobs.released if e.job_id and e.job_id in per_job]
    minted = emission(
        config.emission_per_epoch,
        config.offering_shares,
        [*work, *worker_work(settled)],
        config.speed,
        invalid,
        seats=seats,
    )
    for (offering, worker_id), amount in sorted(minted.items()):
        book.post(
            Posting(
                EntryKind.EMISSION,
                accounts.MINT,
                accounts.worker(worker_id),
                amount,
                memo={"offering": offering},
            )
        )
        emitted[worker_id] = emitted.get(worker_id, 0) + amount
    paid: dict[str, int] = {}
    held = _held_by(jobs.held)
    for worker_id in _pending_workers(book):
        if worker_id in invalid:
            continue
        amount = book.get(accounts.worker(worker_id)) - held.get(worker_id, 0)
        if amount <= 0:
            continue
        owner = owners.get(worker_id)
        if owner is None:
            raise SettlementError(f"worker {worker_id} has no owner to pay", worker_id=worker_id)
        book.post(
            Posting(EntryKind.PAYOUT, accounts.worker(worker_id), accounts.user(owner), amount)
        )
        paid[worker_id] = amount
    return Settlement(tuple(book.postings), forfeited, slashed, rewards, emitted, paid, jobs)
