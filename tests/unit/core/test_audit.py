import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmgen.core import credits, stake
from swarmgen.core.audit import (
    export_lines,
    load_export,
    verify_export,
    verify_export_bytes,
)
from swarmgen.core.canonical import canonical_json
from swarmgen.core.ledger import Ledger, Posting
from swarmgen.core.receipts import Receipt
from swarmgen.core.seal import EpochSeal, seal_ledger
from swarmgen.core.settlement import EpochConfig, Sanction, settle_epoch
from swarmgen.core.signing import KeyPair
from swarmgen.core.stake import StakePolicy

COORDINATOR = KeyPair.from_seed(b"c" * 32)
HONEST, CHEAT = KeyPair.from_seed(b"h" * 32), KeyPair.from_seed(b"x" * 32)
OWNERS = {HONEST.public_key: "hana", CHEAT.public_key: "xavier"}
CONFIG = EpochConfig(
    length_s=60,
    emission_per_epoch=1_000,
    offering_shares={"echo-text@fp32": 1},
    stake=StakePolicy(unlock_delay_epochs=1, slash_ppm=200_000),
)


def _job(ledger: Ledger, job: str, keys: KeyPair, price: int) -> None:
    ledger.append([credits.reserve(ledger.balances, "alice", job, price)], ledger.epoch)
    receipt = Receipt.signed(
        keys,
        job_id=job,
        input_digest="in",
        output_digest="out",
        artifact_digest="art",
        timings={"run_ms": price // 10},
        nonce=f"nonce-{job}",
    )
    ledger.append(credits.complete(ledger.balances, job, "alice", receipt, 50_000), ledger.epoch)


def _close(ledger: Ledger, seals: list[EpochSeal], invalid: tuple[str, ...] = ()) -> None:
    epoch = ledger.epoch
    entries = [e for e in ledger.entries if e.epoch == epoch]
    result = settle_epoch(
        entries,
        ledger.balances,
        CONFIG,
        verdicts={w: Sanction() for w in invalid},
        checks={HONEST.public_key: 2},
        owners=OWNERS,
    )
    ledger.append(result.postings, epoch)
    seals.append(seal_ledger(ledger, epoch, COORDINATOR))


def _history() -> tuple[Ledger, list[EpochSeal]]:
    """Two sealed epochs (one with a cheat caught) and an unsealed tail."""
    ledger, seals = Ledger(), []
    ledger.append([credits.grant("alice", 10_000), credits.grant("xavier", 500)], epoch=0)
    ledger.append([stake.lock(ledger.balances, "xavier", CHEAT.public_key, 500)], epoch=0)
    _job(ledger, "j1", HONEST, 400)
    _job(ledger, "j2", CHEAT, 300)
    _close(ledger, seals, invalid=(CHEAT.public_key,))
    _job(ledger, "j3", HONEST, 250)
    ledger.append([credits.reserve(ledger.balances, "alice", "j4", 90)], ledger.epoch)
    ledger.append(
        [credits.refund(ledger.balances, "j4", "alice", credits.RefundReason.CANCELLED)],
        ledger.epoch,
    )
    _close(ledger, seals)
    ledger.append([credits.transfer(ledger.balances, "hana", "bob", 10)], ledger.epoch)
    return ledger, seals


def _export() -> bytes:
    ledger, seals = _history()
    return "".join(export_lines(ledger.entries, seals, COORDINATOR.public_key)).encode()


EXPORT = _export()


def test_an_honest_export_verifies() -> None:
    ledger, seals = _history()
    report = verify_export_bytes(EXPORT, COORDINATOR.public_key)
    assert report.ok, report.error
    assert report.entries == len(ledger.entries)
    assert (report.seals, report.unsealed) == (2, 1)
    totals = ledger.totals()
    assert (report.minted, report.burned, report.supply) == (
        totals.minted,
        totals.burned,
        totals.supply,
    )
    assert report.burned == 100  # 20 % of the cheat's stake
    assert report.head_hash == ledger.head
    loaded = load_export(EXPORT.splitlines())
    assert loaded.entries == tuple(ledger.entries) and loaded.seals == tuple(seals)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_any_single_byte_change_fails_verification(data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(EXPORT) - 1), label="position")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != EXPORT[position]), label="byte")
    mutated = EXPORT[:position] + bytes([byte]) + EXPORT[position + 1 :]
    assert not verify_export_bytes(mutated).ok


def _lines() -> list[bytes]:
    return EXPORT.splitlines()


def _rewrite(line: bytes, **changes: object) -> bytes:
    return canonical_json({**json.loads(line), **changes})


def test_empty_epochs_are_sealed_and_verify() -> None:
    ledger, seals = Ledger(), []
    ledger.append([credits.grant("alice", 5)], epoch=0)
    seals.append(seal_ledger(ledger, 0, COORDINATOR))
    seals.append(seal_ledger(ledger, 1, COORDINATOR))
    ledger.append([credits.grant("bob", 5)], epoch=2)
    seals.append(seal_ledger(ledger, 2, COORDINATOR))
    lines = list(export_lines(ledger.entries, seals, COORDINATOR.public_key))
    report = verify_export(lines, COORDINATOR.public_key)
    assert report.ok, report.error
    assert (report.seals, report.entries, report.minted) == (3, 2, 10)
    swapped = [lines[0], lines[1], lines[3], lines[2], *lines[4:]]
    assert not verify_export(swapped, COORDINATOR.public_key).ok


def test_a_reordered_dropped_or_duplicated_line_fails() -> None:
    lines = _lines()
    for broken in (
        [lines[0], lines[2], lines[1], *lines[3:]],
        lines[:3] + lines[4:],
        [*lines[:3], lines[3], *lines[3:]],
        lines[1:],
    ):
        assert not verify_export(broken, COORDINATOR.public_key).ok


def test_a_rehashed_history_still_fails_at_the_seal() -> None:
    """Rewriting an entry and every later hash consistently is caught by the signed root."""
    ledger, seals = _history()
    forged = Ledger()
    for entry in ledger.entries[:2]:
        posting = entry.posting
        if entry.seq == 0:
            posting = Posting(
                posting.kind, posting.debit, "user:mallory", posting.amount, memo=posting.memo
            )
        forged.append([posting], entry.epoch)
    lines = list(export_lines(forged.entries, seals[:1], COORDINATOR.public_key))
    report = verify_export(lines)
    assert not report.ok and "seal" in (report.error or "")


def test_the_wrong_coordinator_key_fails() -> None:
    other = KeyPair.from_seed(b"o" * 32).public_key
    assert not verify_export(_lines(), other).ok
    header = _rewrite(_lines()[0], coordinator=other)
    assert not verify_export([header, *_lines()[1:]]).ok


def test_an_unsealed_closed_epoch_fails() -> None:
    lines = [line for line in _lines() if b'"type":"seal"' not in line or b'"epoch":1' in line]
    report = verify_export(lines, COORDINATOR.public_key)
    assert not report.ok and "no seal" in (report.error or "")


def test_non_canonical_or_partial_input_fails() -> None:
    lines = _lines()
    spaced = json.dumps(json.loads(lines[1])).encode()
    assert not verify_export([lines[0], spaced, *lines[2:]]).ok
    assert not verify_export([]).ok
    assert not verify_export_bytes(EXPORT[:-1]).ok
    assert not verify_export_bytes(EXPORT + b"\n").ok
    assert verify_export_bytes(b"".join(line + b"\n" for line in lines[:3])).ok


@pytest.mark.parametrize("bad", [b"", b"[]", b'{"type":1}', b'{"type":"x","type":"y"}', b"NaN"])
def test_garbage_lines_fail_without_raising(bad: bytes) -> None:
    report = verify_export([_lines()[0], bad])
    assert not report.ok and report.line == 2
