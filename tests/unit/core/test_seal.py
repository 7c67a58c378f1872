import dataclasses

import pytest

from swarmgen.core import credits
from swarmgen.core.ledger import Ledger
from swarmgen.core.merkle import EMPTY_ROOT, merkle_root
from swarmgen.core.seal import EpochSeal, seal_epoch, seal_ledger
from swarmgen.core.signing import KeyPair

KEYS = KeyPair.from_seed(b"s" * 32)


def _ledger() -> Ledger:
    ledger = Ledger()
    ledger.append([credits.grant("a", 5), credits.grant("b", 7)], epoch=0)
    return ledger


def test_a_seal_names_its_entries_root_head_and_totals() -> None:
    ledger = _ledger()
    seal = seal_ledger(ledger, 0, KEYS)
    assert (seal.epoch, seal.first_seq, seal.count) == (0, 0, 2)
    assert seal.root == merkle_root([e.hash for e in ledger.entries])
    assert seal.head_hash == ledger.head
    assert seal.totals == ledger.totals()
    assert seal.verify(KEYS.public_key)
    assert EpochSeal.from_dict(seal.to_dict()) == seal


@pytest.mark.parametrize(
    "change",
    [
        {"epoch": 1},
        {"first_seq": 1},
        {"count": 3},
        {"root": EMPTY_ROOT},
        {"head_hash": "0" * 64},
        {"minted": 13},
        {"burned": 1},
        {"supply": 11},
    ],
)
def test_changing_a_sealed_field_breaks_the_signature(change: dict[str, object]) -> None:
    seal = seal_ledger(_ledger(), 0, KEYS)
    assert not dataclasses.replace(seal, **change).verify(KEYS.public_key)


def test_another_key_does_not_verify() -> None:
    seal = seal_ledger(_ledger(), 0, KEYS)
    other = KeyPair.from_seed(b"t" * 32)
    assert not seal.verify(other.public_key)
    resigned = dataclasses.replace(seal, coordinator=other.public_key)
    assert not resigned.verify(other.public_key)


def test_an_empty_epoch_is_sealed_at_the_current_head() -> None:
    ledger = _ledger()
    seal_ledger(ledger, 0, KEYS)
    empty = seal_ledger(ledger, 1, KEYS)
    assert (empty.count, empty.first_seq, empty.root) == (0, 2, EMPTY_ROOT)
    assert empty.head_hash == ledger.head and empty.verify(KEYS.public_key)


def test_entries_of_another_epoch_are_refused() -> None:
    ledger = _ledger()
    with pytest.raises(ValueError):
        seal_epoch(
            1, ledger.entries, head_hash=ledger.head, next_seq=2, totals=ledger.totals(), keys=KEYS
        )


@pytest.mark.parametrize("change", [{"epoch": "0"}, {"root": 1}, {"extra": 1}])
def test_from_dict_is_strict(change: dict[str, object]) -> None:
    seal = seal_ledger(_ledger(), 0, KEYS)
    with pytest.raises(ValueError):
        EpochSeal.from_dict({**seal.to_dict(), **change})
