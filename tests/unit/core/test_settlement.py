from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from swarmgen.core import accounts, credits, stake
from swarmgen.core.accounts import AccountKind, account_kind
from swarmgen.core.audit import export_lines, verify_export
from swarmgen.core.credits import RefundReason
from swarmgen.core.ledger import Entry, EntryKind, Ledger
from swarmgen.core.receipts import Receipt
from swarmgen.core.rewards import JobWork, WorkerWork
from swarmgen.core.seal import EpochSeal, seal_ledger
from swarmgen.core.settlement import (
    CheckState,
    EpochConfig,
    Sanction,
    SettlementError,
    epoch_at,
    epoch_start,
    settle_epoch,
    triage,
)
from swarmgen.core.signing import KeyPair
from swarmgen.core.stake import StakePolicy
from swarmgen.core.verification.verdicts import epoch_verdict
from swarmgen.errors import Conflict, InsufficientCredits

OFFERING = "echo-image@fp32"
COORDINATOR = KeyPair.from_seed(b"c" * 32)
WORKERS = [KeyPair.from_seed(bytes([i + 1]) * 32) for i in range(3)]
OWNERS = {k.public_key: f"owner{i}" for i, k in enumerate(WORKERS)}
CONFIG = EpochConfig(
    length_s=3600,
    emission_per_epoch=10_000,
    offering_shares={OFFERING: 3, "other@int8": 1},
    validator_fee_ppm=100_000,
    stake=StakePolicy(unlock_delay_epochs=1, slash_ppm=500_000),
)


def _complete(ledger: Ledger, job: str, requester: str, keys: KeyPair, run_ms: int) -> None:
    receipt = Receipt.signed(
        keys,
        job_id=job,
        input_digest="i",
        output_digest="o",
        artifact_digest="a",
        timings={"run_ms": run_ms},
    )
    ledger.append(
        credits.complete(ledger.balances, job, requester, receipt, CONFIG.validator_fee_ppm),
        ledger.epoch,
    )


def _work(entries: list[Entry] | tuple[Entry, ...]) -> list[WorkerWork]:
    out = []
    for entry in entries:
        receipt = entry.posting.receipt
        if entry.kind is EntryKind.RELEASE and receipt is not None:
            ms = receipt.run_ms() * 1_000_000 // entry.amount
            out.append(WorkerWork(receipt.worker_id, OFFERING, entry.amount, ms))
    return out


def _epoch_entries(ledger: Ledger, epoch: int) -> list[Entry]:
    return [e for e in ledger.entries if e.epoch == epoch]


def test_an_invalid_worker_forfeits_refunds_and_is_slashed() -> None:
    honest, cheat = WORKERS[0], WORKERS[1]
    ledger = Ledger()
    ledger.append([credits.grant("alice", 5000), credits.grant("owner1", 1000)], epoch=0)
    ledger.append([stake.lock(ledger.balances, "owner1", cheat.public_key, 1000)], epoch=0)
    for i, keys in enumerate([honest, cheat, cheat]):
        ledger.append([credits.reserve(ledger.balances, "alice", f"j{i}", 1000)], epoch=0)
        _complete(ledger, f"j{i}", "alice", keys, run_ms=100)
    alice_before = ledger.balance(accounts.user("alice"))
    result = settle_epoch(
        _epoch_entries(ledger, 0),
        ledger.balances,
        CONFIG,
        verdicts={cheat.public_key: Sanction(reason="artifact mismatch")},
        work=_work(_epoch_entries(ledger, 0)),
        checks={cheat.public_key: 5, honest.public_key: 1},
        owners=OWNERS,
    )
    ledger.append(result.postings, epoch=0)
    fee = 1000 * CONFIG.validator_fee_ppm // 1_000_000
    assert result.forfeited == {cheat.public_key: 2 * (1000 - fee)}
    assert ledger.balance(accounts.user("alice")) == alice_before + 2 * (1000 - fee)
    assert result.slashed == {cheat.public_key: 500}
    assert ledger.totals().burned == 500
    # The honest worker gets its fee, the whole validator pool and the offering's emission.
    assert result.validator_rewards == {honest.public_key: 3 * fee}
    assert result.emitted == {honest.public_key: 7500}
    assert result.paid == {honest.public_key: (1000 - fee) + 3 * fee + 7500}
    assert ledger.balance(accounts.user("owner0")) == result.paid[honest.public_key]
    assert ledger.balance(accounts.user("owner1")) == 0
    assert ledger.balance(accounts.worker(cheat.public_key)) == 0
    assert ledger.totals().conserved


def test_verification_verdicts_plug_in() -> None:
    honest, cheat = WORKERS[0], WORKERS[1]
    clean = epoch_verdict(checks=20, failures=0, honest_fp=0.01)
    caught = epoch_verdict(checks=20, failures=10, honest_fp=0.01)
    ledger = Ledger()
    ledger.append([credits.grant("alice", 100)], epoch=0)
    for job, keys in (("a", honest), ("b", cheat)):
        ledger.append([credits.reserve(ledger.balances, "alice", job, 50)], epoch=0)
        _complete(ledger, job, "alice", keys, run_ms=1)
    result = settle_epoch(
        ledger.open_entries,
        ledger.balances,
        CONFIG,
        verdicts={honest.public_key: clean, cheat.public_key: caught},
        owners=OWNERS,
    )
    assert set(result.forfeited) == {cheat.public_key}
    assert set(result.paid) == {honest.public_key}


def test_a_paid_worker_needs_an_owner() -> None:
    ledger = Ledger()
    ledger.append([credits.grant("alice", 10)], epoch=0)
    ledger.append([credits.reserve(ledger.balances, "alice", "j", 10)], epoch=0)
    _complete(ledger, "j", "alice", WORKERS[0], run_ms=1)
    with pytest.raises(SettlementError):
        settle_epoch(_epoch_entries(ledger, 0), ledger.balances, CONFIG, owners={})


def test_epoch_clock() -> None:
    assert epoch_at(1000, 1000, 60) == 0
    assert epoch_at(1059, 1000, 60) == 0
    assert epoch_at(1060, 1000, 60) == 1
    assert epoch_at(10, 1000, 60) == 0
    assert epoch_at(epoch_start(7, 1000, 60), 1000, 60) == 7


USERS = ("alice", "bob", "owner0", "owner1", "owner2")
users = st.sampled_from(USERS)
worker_index = st.integers(0, len(WORKERS) - 1)
amounts = st.integers(1, 5_000)


class Economy(RuleBasedStateMachine):
    """Random grants, jobs, verdicts, stake moves and epoch closes on one ledger."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger()
        self.seals: list[EpochSeal] = []
        self.open_jobs: dict[str, tuple[str, int]] = {}
        self.invalid: set[str] = set()
        self.checks: dict[str, int] = {}
        self.count = 0
        self.closed_at = 0
        self.minted = 0
        self.burned = 0

    @property
    def balances(self) -> Mapping[str, int]:
        return self.ledger.balances

    def _append(self, postings: object) -> None:
        items = postings if isinstance(postings, tuple) else (postings,)
        self.ledger.append(items, self.ledger.epoch)

    @initialize()
    def fund_everyone(self) -> None:
        for user in USERS:
            self.grant(user, 20_000)

    @rule(user=users, amount=amounts)
    def grant(self, user: str, amount: int) -> None:
        self._append(credits.grant(user, amount))
        self.minted += amount

    @rule(sender=users, recipient=users, amount=amounts)
    def transfer(self, sender: str, recipient: str, amount: int) -> None:
        have = self.ledger.balance(accounts.user(sender))
        if sender == recipient:
            return
        if have < amount:
            with pytest.raises(InsufficientCredits):
                credits.transfer(self.balances, sender, recipient, amount)
            return
        self._append(credits.transfer(self.balances, sender, recipient, amount))

    @rule(user=users, price=amounts)
    def submit(self, user: str, price: int) -> None:
        job = f"job{self.count}"
        self.count += 1
        if self.ledger.balance(accounts.user(user)) < price:
            with pytest.raises(InsufficientCredits):
                credits.reserve(self.balances, user, job, price)
            return
        self._append(credits.reserve(self.balances, user, job, price))
        self.open_jobs[job] = (user, price)

    @precondition(lambda self: self.open_jobs)
    @rule(data=st.data(), worker=worker_index, run_ms=st.integers(0, 10_000))
    def complete(self, data: st.DataObject, worker: int, run_ms: int) -> None:
        job = data.draw(st.sampled_from(sorted(self.open_jobs)))
        requester, _ = self.open_jobs.pop(job)
        _complete(self.ledger, job, requester, WORKERS[worker], run_ms)

    @precondition(lambda self: self.open_jobs)
    @rule(data=st.data(), reason=st.sampled_from(RefundReason))
    def refund(self, data: st.DataObject, reason: RefundReason) -> None:
        job = data.draw(st.sampled_from(sorted(self.open_jobs)))
        requester, price = self.open_jobs.pop(job)
        before = self.ledger.balance(accounts.user(requester))
        self._append(credits.refund(self.balances, job, requester, reason))
        assert self.ledger.balance(accounts.user(requester)) == before + price

    @rule(worker=worker_index, amount=amounts)
    def lock(self, worker: int, amount: int) -> None:
        owner, worker_id = f"owner{worker}", WORKERS[worker].public_key
        if self.ledger.balance(accounts.user(owner)) >= amount:
            self._append(stake.lock(self.balances, owner, worker_id, amount))

    @rule(worker=worker_index, amount=amounts)
    def unbond(self, worker: int, amount: int) -> None:
        worker_id = WORKERS[worker].public_key
        if self.ledger.balance(accounts.stake(worker_id)) >= amount:
            epoch = self.ledger.epoch
            self._append(
                stake.request_unlock(self.balances, worker_id, amount, epoch, CONFIG.stake)
            )

    @rule(worker=worker_index)
    def unlock(self, worker: int) -> None:
        worker_id = WORKERS[worker].public_key
        due = stake.unlock_epoch(self.ledger.entries, worker_id)
        if self.ledger.balance(accounts.unbonding(worker_id)) and due is not None:
            if due <= self.ledger.epoch:
                self._append(
                    stake.unlock(self.balances, f"owner{worker}", worker_id, self.ledger.epoch, due)
                )
            else:
                with pytest.raises(Conflict):
                    stake.unlock(self.balances, f"owner{worker}", worker_id, self.ledger.epoch, due)

    def _earning(self) -> list[str]:
        pending = (k.public_key for k in WORKERS)
        return [w for w in pending if self.ledger.balance(accounts.worker(w))]

    @precondition(lambda self: self._earning())
    @rule(data=st.data())
    def verdict(self, data: st.DataObject) -> None:
        """Verification finds a worker that has earned in this epoch invalid."""
        self.invalid.add(data.draw(st.sampled_from(self._earning())))

    @rule(worker=worker_index, checks=st.integers(1, 5))
    def validate(self, worker: int, checks: int) -> None:
        worker_id = WORKERS[worker].public_key
        self.checks[worker_id] = self.checks.get(worker_id, 0) + checks

    @precondition(lambda self: len(self.ledger.entries) > self.closed_at + 3)
    @rule()
    def close_epoch(self) -> None:
        self.closed_at = len(self.ledger.entries)
        epoch = self.ledger.epoch
        entries = _epoch_entries(self.ledger, epoch)
        result = settle_epoch(
            entries,
            self.balances,
            CONFIG,
            verdicts={w: Sanction() for w in self.invalid},
            work=_work(entries),
            checks=self.checks,
            owners=OWNERS,
        )
        self.ledger.append(result.postings, epoch)
        self.minted += sum(result.emitted.values())
        self.burned += sum(result.slashed.values())
        assert not set(result.paid) & self.invalid
        for keys in WORKERS:
            assert self.ledger.balance(accounts.worker(keys.public_key)) == 0
        self.seals.append(seal_ledger(self.ledger, epoch, COORDINATOR))
        self.invalid, self.checks = set(), {}
        lines = export_lines(self.ledger.entries, self.seals, COORDINATOR.public_key)
        report = verify_export(lines, COORDINATOR.public_key)
        assert report.ok, report.error
        assert report.unsealed == 0 and report.seals == len(self.seals)

    @invariant()
    def conservation_is_exact(self) -> None:
        sums = self.ledger.totals()
        assert (sums.minted, sums.burned) == (self.minted, self.burned)
        assert sums.supply == self.minted - self.burned

    @invariant()
    def no_balance_is_negative(self) -> None:
        assert all(v >= 0 for k, v in self.balances.items() if k != accounts.MINT)

    @invariant()
    def escrow_holds_exactly_the_open_jobs(self) -> None:
        held = {
            accounts.account_id(k): v
            for k, v in self.balances.items()
            if account_kind(k) is AccountKind.ESCROW and v
        }
        assert held == {job: price for job, (_, price) in self.open_jobs.items()}


Economy.TestCase.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)
TestEconomy = Economy.TestCase


# held earnings -------------------------------------------------------------------------

FINAL = st.sampled_from(
    [CheckState.UNSAMPLED, CheckState.UPHELD, CheckState.REJECTED, CheckState.ABANDONED]
)
HELD_CONFIG = EpochConfig(length_s=60, emission_per_epoch=0, offering_shares={OFFERING: 1})


@settings(max_examples=60, deadline=None)
@given(
    jobs=st.lists(
        st.tuples(st.integers(0, 2), st.integers(1, 1000), FINAL, st.integers(0, 3)),
        min_size=1,
        max_size=10,
    ),
    sanction=st.none() | st.tuples(st.integers(0, 2), st.integers(0, 3)),
)
def test_held_releases_are_paid_once_only_when_their_checks_settle(
    jobs: list[tuple[int, int, CheckState, int]], sanction: tuple[int, int] | None
) -> None:
    """Every job's check settles at a drawn close; a worker may be sanctioned at another.
    Nothing is paid twice, nothing paid for a rejected job, and credits are conserved."""
    ledger = Ledger()
    ledger.append([credits.grant("alice", 10_000)], epoch=0)
    for i, (worker, price, _, _) in enumerate(jobs):
        ledger.append([credits.reserve(ledger.balances, "alice", f"j{i}", price)], epoch=0)
        _complete(ledger, f"j{i}", "alice", WORKERS[worker], run_ms=1)
    release = {e.job_id: e for e in ledger.entries if e.kind is EntryKind.RELEASE}
    open_ids = set(release)
    released: list[str] = []
    forfeited: list[str] = []
    for close in range(4):
        states = {
            f"j{i}": (CheckState.PENDING if close < settles else final)
            for i, (_, _, final, settles) in enumerate(jobs)
        }
        invalid = {}
        if sanction is not None and sanction[1] == close:
            invalid = {WORKERS[sanction[0]].public_key: Sanction()}
        result = settle_epoch(
            [release[j] for j in sorted(open_ids)],
            ledger.balances,
            HELD_CONFIG,
            verdicts=invalid,
            owners=OWNERS,
            check_states=states,
        )
        ledger.append(result.postings, epoch=close)
        now_paid = [e.job_id or "" for e in result.jobs.released]
        now_forfeited = [e.job_id or "" for e in result.jobs.forfeited]
        assert all(states[j] is not CheckState.PENDING for j in now_paid)
        assert all(states[j] not in (CheckState.REJECTED, CheckState.ABANDONED) for j in now_paid)
        released += now_paid
        forfeited += now_forfeited
        open_ids -= set(now_paid) | set(now_forfeited)
        assert ledger.totals().conserved
        for keys in WORKERS:  # what a worker's account holds is exactly its held releases
            held = sum(
                release[j].posting.amount
                for j in open_ids
                if accounts.account_id(release[j].posting.credit) == keys.public_key
            )
            assert ledger.balance(accounts.worker(keys.public_key)) == held
    assert not open_ids  # every check settled by the last close
    assert sorted(released + forfeited) == sorted(release)  # each exactly once
    for i, (_, _, final, _) in enumerate(jobs):
        if final in (CheckState.REJECTED, CheckState.ABANDONED):
            assert f"j{i}" in forfeited
    for n, keys in enumerate(WORKERS):
        owed = sum(
            release[j].posting.amount
            for j in released
            if accounts.account_id(release[j].posting.credit) == keys.public_key
        )
        assert ledger.balance(accounts.user(f"owner{n}")) == owed
    refunds = sum(release[j].posting.amount for j in forfeited)
    spent = sum(price for _, price, _, _ in jobs)
    assert ledger.balance(accounts.user("alice")) == 10_000 - spent + refunds


def test_a_rejected_check_forfeits_the_job_whenever_it_settles() -> None:
    cheat = WORKERS[1]
    ledger = Ledger()
    ledger.append([credits.grant("alice", 100)], epoch=0)
    ledger.append([credits.reserve(ledger.balances, "alice", "late", 100)], epoch=0)
    _complete(ledger, "late", "alice", cheat, run_ms=1)
    releases = [e for e in ledger.entries if e.kind is EntryKind.RELEASE]
    first = settle_epoch(
        releases,
        ledger.balances,
        CONFIG,
        owners=OWNERS,
        check_states={"late": CheckState.PENDING},
    )
    ledger.append(first.postings, epoch=0)
    assert first.paid == {} and [e.job_id for e in first.jobs.held] == ["late"]
    second = settle_epoch(
        releases,
        ledger.balances,
        CONFIG,
        owners=OWNERS,
        check_states={"late": CheckState.REJECTED},
    )
    ledger.append(second.postings, epoch=1)
    assert second.paid == {} and second.forfeited == {cheat.public_key: releases[0].amount}
    assert ledger.balance(accounts.user("owner1")) == 0


def test_emission_counts_only_work_released_at_the_close() -> None:
    early, late = WORKERS[0], WORKERS[1]
    ledger = Ledger()
    ledger.append([credits.grant("alice", 100)], epoch=0)
    for job, keys in (("a", early), ("b", late)):
        ledger.append([credits.reserve(ledger.balances, "alice", job, 50)], epoch=0)
        _complete(ledger, job, "alice", keys, run_ms=1)
    releases = [e for e in ledger.entries if e.kind is EntryKind.RELEASE]
    work = {
        "a": JobWork("a", early.public_key, OFFERING, 10, 1000),
        "b": JobWork("b", late.public_key, OFFERING, 10, 1000),
    }
    held = settle_epoch(
        releases,
        ledger.balances,
        CONFIG,
        owners=OWNERS,
        check_states={"b": CheckState.PENDING},
        job_work=work,
    )
    ledger.append(held.postings, epoch=0)
    assert held.emitted == {early.public_key: 7500}
    settled = settle_epoch(
        releases[1:],
        ledger.balances,
        CONFIG,
        owners=OWNERS,
        check_states={"b": CheckState.UPHELD},
        job_work=work,
    )
    assert settled.emitted == {late.public_key: 7500}


def test_triage_ignores_other_entries_and_takes_missing_checks_as_unsampled() -> None:
    ledger = Ledger()
    ledger.append([credits.grant("alice", 100)], epoch=0)
    ledger.append([credits.reserve(ledger.balances, "alice", "j", 100)], epoch=0)
    _complete(ledger, "j", "alice", WORKERS[0], run_ms=1)
    sorted_out = triage(ledger.entries, {}, frozenset())
    assert [e.job_id for e in sorted_out.released] == ["j"]
    assert sorted_out.held == () and sorted_out.forfeited == ()
    invalid = triage(ledger.entries, {"j": CheckState.PENDING}, frozenset({WORKERS[0].public_key}))
    assert [e.job_id for e in invalid.forfeited] == ["j"]


def test_each_rejected_check_slashes_its_worker_without_a_verdict() -> None:
    cheat, honest = WORKERS[1], WORKERS[0]
    ledger = Ledger()
    ledger.append([credits.grant("alice", 300), credits.grant("owner1", 1000)], epoch=0)
    ledger.append([credits.grant("owner0", 1000)], epoch=0)
    ledger.append([stake.lock(ledger.balances, "owner1", cheat.public_key, 1000)], epoch=0)
    ledger.append([stake.lock(ledger.balances, "owner0", honest.public_key, 1000)], epoch=0)
    for job, keys in (("r1", cheat), ("r2", cheat), ("ok", honest)):
        ledger.append([credits.reserve(ledger.balances, "alice", job, 100)], epoch=0)
        _complete(ledger, job, "alice", keys, run_ms=1)
    releases = [e for e in ledger.entries if e.kind is EntryKind.RELEASE]
    states = {"r1": CheckState.REJECTED, "r2": CheckState.REJECTED, "ok": CheckState.UPHELD}
    settled = settle_epoch(releases, ledger.balances, CONFIG, owners=OWNERS, check_states=states)
    ledger.append(settled.postings, epoch=0)
    # no verdict at all: two detections, two slashes of half the stake each, compounding
    assert settled.slashed == {cheat.public_key: 500 + 250}
    assert ledger.balance(accounts.stake(cheat.public_key)) == 250
    assert ledger.balance(accounts.stake(honest.public_key)) == 1000  # an upheld check costs 0
    assert ledger.balance(accounts.BURN) == 750 and settled.forfeited == {cheat.public_key: 180}


def test_an_abandoned_check_refunds_the_job_without_paying_or_slashing_its_worker() -> None:
    worker = WORKERS[1]
    ledger = Ledger()
    ledger.append([credits.grant("alice", 100), credits.grant("owner1", 1000)], epoch=0)
    ledger.append([stake.lock(ledger.balances, "owner1", worker.public_key, 1000)], epoch=0)
    ledger.append([credits.reserve(ledger.balances, "alice", "split", 100)], epoch=0)
    _complete(ledger, "split", "alice", worker, run_ms=1)
    releases = [e for e in ledger.entries if e.kind is EntryKind.RELEASE]
    held = settle_epoch(
        releases, ledger.balances, CONFIG, owners=OWNERS, check_states={"split": CheckState.PENDING}
    )
    ledger.append(held.postings, epoch=0)
    assert held.paid == {} and [e.job_id for e in held.jobs.held] == ["split"]
    states = {"split": CheckState.ABANDONED}
    settled = settle_epoch(releases, ledger.balances, CONFIG, owners=OWNERS, check_states=states)
    ledger.append(settled.postings, epoch=1)
    assert settled.paid == {} and settled.slashed == {}
    assert settled.forfeited == {worker.public_key: releases[0].amount}
    assert ledger.balance(accounts.user("owner1")) == 0
    assert ledger.balance(accounts.stake(worker.public_key)) == 1000
    assert ledger.balance(accounts.user("alice")) == releases[0].amount
    assert ledger.totals().conserved
