"""Record entries: verdicts and sampling commitments move nothing and survive an audit."""

import pytest

from swarmgen.core import accounts, credits
from swarmgen.core.audit import export_lines, verify_export_bytes
from swarmgen.core.ledger import RULES, EntryKind, Ledger, LedgerError, Posting
from swarmgen.core.seal import seal_ledger
from swarmgen.core.signing import KeyPair

RECORDS = [kind for kind, rule in RULES.items() if rule.record]
WORKER = accounts.worker("w1")


def _record(kind: EntryKind, amount: int = 0, other: str | None = None) -> Posting:
    account = WORKER if kind is EntryKind.VERDICT else accounts.VALIDATOR_POOL
    return Posting(kind, account, other or account, amount, memo={"note": "x"})


def test_the_record_kinds_are_the_verification_facts() -> None:
    assert set(RECORDS) == {EntryKind.VERDICT, EntryKind.SAMPLING_COMMIT, EntryKind.SAMPLING_REVEAL}


@pytest.mark.parametrize("kind", RECORDS)
def test_a_record_moves_nothing(kind: EntryKind) -> None:
    ledger = Ledger()
    ledger.append([credits.grant("alice", 10)], epoch=0)
    before = {k: v for k, v in ledger.balances.items() if v}
    ledger.append([_record(kind)], epoch=0)
    assert {k: v for k, v in ledger.balances.items() if v} == before
    assert ledger.totals().conserved


@pytest.mark.parametrize("kind", RECORDS)
def test_a_record_with_an_amount_or_two_accounts_is_refused(kind: EntryKind) -> None:
    with pytest.raises(LedgerError, match="moves nothing"):
        _record(kind, amount=1).check()
    other = accounts.worker("w2") if kind is EntryKind.VERDICT else accounts.MINT
    with pytest.raises(LedgerError):
        _record(kind, other=other).check()


def test_a_money_kind_still_needs_two_accounts_and_an_amount() -> None:
    alice = accounts.user("alice")
    with pytest.raises(LedgerError, match="same account"):
        Posting(EntryKind.TRANSFER, alice, alice, 5).check()
    with pytest.raises(LedgerError, match="positive"):
        Posting(EntryKind.TRANSFER, alice, accounts.user("bob"), 0).check()


def test_records_verify_in_an_export_and_tampering_fails() -> None:
    keys = KeyPair.generate()
    ledger = Ledger()
    ledger.append([credits.grant("alice", 10), _record(EntryKind.SAMPLING_COMMIT)], epoch=0)
    ledger.append([_record(EntryKind.VERDICT), _record(EntryKind.SAMPLING_REVEAL)], epoch=0)
    seals = [seal_ledger(ledger, 0, keys)]
    export = "".join(export_lines(ledger.entries, seals, keys.public_key)).encode()
    assert verify_export_bytes(export, keys.public_key).ok
    tampered = export.replace(b'"note":"x"', b'"note":"y"', 1)
    assert tampered != export
    assert not verify_export_bytes(tampered, keys.public_key).ok
