"""Reading one epoch's verdicts, refunds and earnings from ledger entries."""

from __future__ import annotations

from swarmgen.core import accounts
from swarmgen.core.ledger import Entry, EntryKind, Posting
from swarmgen.demo.story import epoch_entries, refunds, worker_epoch

HONEST, CHEATER, REQUESTER = "w-honest", "w-cheat", "u-req"


def entry(seq: int, posting: Posting, epoch: int = 1) -> Entry:
    return Entry(seq, epoch, posting, prev_hash=f"{seq - 1}", hash=f"{seq}")


def verdict(worker_id: str, checks: int, failures: int, invalid: int) -> Posting:
    account = accounts.worker(worker_id)
    memo: dict[str, str | int] = {
        "checks": checks,
        "failures": failures,
        "invalid": invalid,
        "p_value": "1e-09" if invalid else "1",
    }
    return Posting(EntryKind.VERDICT, account, account, 0, memo=memo)


def ledger() -> list[Entry]:
    honest, cheater = accounts.worker(HONEST), accounts.worker(CHEATER)
    requester, pool = accounts.user(REQUESTER), accounts.VALIDATOR_POOL
    postings = [
        Posting(EntryKind.RELEASE, accounts.escrow("j1"), honest, 95, job_id="j1"),
        Posting(EntryKind.RELEASE, accounts.escrow("j2"), cheater, 90, job_id="j2"),
        Posting(EntryKind.RELEASE, accounts.escrow("j3"), cheater, 80, job_id="j3"),
        verdict(HONEST, 4, 0, 0),
        verdict(CHEATER, 4, 3, 1),
        Posting(EntryKind.FORFEIT, cheater, requester, 90, job_id="j2"),
        Posting(EntryKind.FORFEIT, cheater, requester, 80, job_id="j3"),
        Posting(EntryKind.SLASH, accounts.stake(CHEATER), accounts.BURN, 500),
        Posting(EntryKind.SLASH, accounts.stake(CHEATER), accounts.BURN, 450),
        Posting(EntryKind.VALIDATOR_REWARD, pool, honest, 7),
        Posting(EntryKind.EMISSION, accounts.MINT, honest, 1000),
        Posting(EntryKind.PAYOUT, honest, accounts.user("u-owner"), 1102),
    ]
    earlier = entry(0, Posting(EntryKind.EMISSION, accounts.MINT, honest, 5), epoch=0)
    return [earlier, *(entry(i + 1, p) for i, p in enumerate(postings))]


def test_a_valid_worker_is_paid_everything_it_earned_in_the_epoch() -> None:
    found = worker_epoch(epoch_entries(ledger(), 1), HONEST)
    assert (found.checks, found.failures, found.invalid) == (4, 0, False)
    assert (found.released, found.rewards, found.emission) == (95, 7, 1000)
    assert found.earned == found.paid == 1102
    assert found.forfeited == found.slashed == 0


def test_an_invalid_worker_forfeits_its_jobs_to_the_requester_and_is_slashed() -> None:
    entries = epoch_entries(ledger(), 1)
    found = worker_epoch(entries, CHEATER)
    assert (found.checks, found.failures, found.invalid, found.p_value) == (4, 3, True, "1e-09")
    assert (found.released, found.forfeited, found.paid, found.slashed) == (170, 170, 0, 950)
    back = refunds(entries, REQUESTER)
    assert [(r.job_id, r.worker_id, r.amount) for r in back] == [
        ("j2", CHEATER, 90),
        ("j3", CHEATER, 80),
    ]
    assert refunds(entries, "someone-else") == []


def test_a_worker_without_a_verdict_reads_as_unchecked() -> None:
    found = worker_epoch(epoch_entries(ledger(), 1), "w-idle")
    assert (found.checks, found.failures, found.invalid, found.p_value) == (0, 0, False, "-")
    assert found.earned == found.paid == 0
