import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core import accounts
from swarmgen.core.ledger import (
    GENESIS_HASH,
    RULES,
    Entry,
    EntryKind,
    Ledger,
    LedgerError,
    Overdraft,
    Posting,
    make_entry,
    project,
    totals,
)

ALICE, BOB = accounts.user("alice"), accounts.user("bob")


def _grant(user: str, amount: int) -> Posting:
    return Posting(EntryKind.GRANT, accounts.MINT, user, amount)


def test_entries_chain_by_hash() -> None:
    ledger = Ledger()
    first = ledger.append([_grant(ALICE, 10)], epoch=0)[0]
    second = ledger.append([Posting(EntryKind.TRANSFER, ALICE, BOB, 4)], epoch=0)[0]
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash == make_entry(0, 0, first.posting, GENESIS_HASH).hash
    assert [e.seq for e in ledger.entries] == [0, 1]
    assert ledger.head == second.hash
    assert ledger.balances == {accounts.MINT: -10, ALICE: 6, BOB: 4}


def test_the_hash_covers_every_field() -> None:
    entry = make_entry(3, 1, _grant(ALICE, 10), GENESIS_HASH)
    changes = [
        make_entry(4, 1, entry.posting, GENESIS_HASH),
        make_entry(3, 2, entry.posting, GENESIS_HASH),
        make_entry(3, 1, entry.posting, "1" * 64),
        make_entry(3, 1, _grant(ALICE, 11), GENESIS_HASH),
        make_entry(3, 1, _grant(BOB, 10), GENESIS_HASH),
        make_entry(3, 1, dataclasses.replace(entry.posting, memo={"reason": "x"}), GENESIS_HASH),
    ]
    assert len({entry.hash, *(c.hash for c in changes)}) == len(changes) + 1


def test_an_overdraft_leaves_the_ledger_unchanged() -> None:
    ledger = Ledger()
    ledger.append([_grant(ALICE, 5)], epoch=0)
    before = (list(ledger.entries), dict(ledger.balances), ledger.head)
    batch = [Posting(EntryKind.TRANSFER, ALICE, BOB, 3), Posting(EntryKind.TRANSFER, ALICE, BOB, 3)]
    with pytest.raises(Overdraft) as caught:
        ledger.append(batch, epoch=0)
    assert caught.value.details["shortfall"] == 1
    assert (list(ledger.entries), dict(ledger.balances), ledger.head) == before


@pytest.mark.parametrize(
    "posting",
    [
        Posting(EntryKind.GRANT, accounts.MINT, accounts.escrow("j"), 1, job_id="j"),
        Posting(EntryKind.TRANSFER, ALICE, ALICE, 1),
        Posting(EntryKind.TRANSFER, ALICE, BOB, 0),
        Posting(EntryKind.TRANSFER, ALICE, BOB, -1),
        Posting(EntryKind.RESERVE, ALICE, accounts.escrow("j"), 1),
        Posting(EntryKind.RESERVE, ALICE, accounts.escrow("j"), 1, job_id="k"),
        Posting(EntryKind.STAKE_UNBOND, accounts.stake("a"), accounts.unbonding("b"), 1),
        Posting(EntryKind.SLASH, accounts.stake("a"), accounts.user("a"), 1),
        Posting(EntryKind.TRANSFER, ALICE, "bank:1", 1),
        Posting(EntryKind.TRANSFER, ALICE, BOB, 1, memo={"x": 1.5}),  # type: ignore[dict-item]
    ],
)
def test_rules_refuse_wrong_movements(posting: Posting) -> None:
    with pytest.raises(LedgerError):
        posting.check()


def test_every_kind_has_a_rule() -> None:
    assert set(RULES) == set(EntryKind)


def test_epochs_never_go_back_and_closed_epochs_stay_closed() -> None:
    ledger = Ledger()
    ledger.append([_grant(ALICE, 1)], epoch=2)
    with pytest.raises(LedgerError):
        ledger.append([_grant(ALICE, 1)], epoch=1)
    assert [e.seq for e in ledger.close_epoch(2)] == [0]
    with pytest.raises(LedgerError):
        ledger.append([_grant(ALICE, 1)], epoch=2)
    ledger.append([_grant(ALICE, 1)], epoch=4)
    with pytest.raises(LedgerError):
        ledger.close_epoch(3)
    assert [e.seq for e in ledger.close_epoch(4)] == [1]


def test_entries_round_trip_through_dicts() -> None:
    ledger = Ledger()
    ledger.append([_grant(ALICE, 9), Posting(EntryKind.TRANSFER, ALICE, BOB, 2)], epoch=0)
    for entry in ledger.entries:
        assert Entry.from_dict(entry.to_dict()) == entry


@pytest.mark.parametrize(
    "change",
    [{"amount": True}, {"amount": "1"}, {"kind": "steal"}, {"memo": []}, {"job_id": 3}, {"x": 1}],
)
def test_from_dict_is_strict(change: dict[str, object]) -> None:
    entry = make_entry(0, 0, _grant(ALICE, 1), GENESIS_HASH)
    with pytest.raises(LedgerError):
        Entry.from_dict({**entry.to_dict(), **change})


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc"), st.integers(1, 50))))
def test_projection_conserves_and_matches_the_ledger(moves: list[tuple[str, str, int]]) -> None:
    ledger = Ledger()
    ledger.append([_grant(accounts.user(u), 100) for u in "abc"], epoch=0)
    for src, dst, amount in moves:
        posting = Posting(EntryKind.TRANSFER, accounts.user(src), accounts.user(dst), amount)
        try:
            ledger.append([posting], epoch=0)
        except LedgerError:
            assert src == dst or ledger.balance(accounts.user(src)) < amount
    assert project(e.posting for e in ledger.entries) == dict(ledger.balances)
    sums = totals(ledger.balances)
    assert sums.conserved and sums.minted == 300 and sums.burned == 0
    assert all(v >= 0 for k, v in ledger.balances.items() if k != accounts.MINT)
