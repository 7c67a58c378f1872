import dataclasses

import pytest

from swarmgen.core import receipts
from swarmgen.core.receipts import MalformedReceipt, Receipt, canonical_b64, verify_strict
from swarmgen.core.signing import KeyPair, unb64

KEYS = KeyPair.from_seed(b"w" * 32)


def _receipt() -> Receipt:
    return Receipt.signed(
        KEYS,
        job_id="job-1",
        input_digest="i" * 64,
        output_digest="o" * 64,
        artifact_digest="a" * 64,
        timings={"load_ms": 3, "run_ms": 120},
        nonce="n-1",
    )


def test_a_signed_receipt_verifies_and_round_trips() -> None:
    receipt = _receipt()
    assert receipt.worker_id == KEYS.public_key
    assert receipt.verify()
    assert Receipt.from_dict(receipt.to_dict()) == receipt
    assert receipt.run_ms() == 123


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("job_id", "job-2"),
        ("input_digest", "j" * 64),
        ("output_digest", "p" * 64),
        ("artifact_digest", "b" * 64),
        ("timings", {"load_ms": 3, "run_ms": 121}),
        ("nonce", "n-2"),
        ("worker_id", KeyPair.from_seed(b"x" * 32).public_key),
    ],
)
def test_changing_any_signed_field_breaks_the_signature(field: str, value: object) -> None:
    assert not dataclasses.replace(_receipt(), **{field: value}).verify()


def test_an_alias_spelling_of_the_signature_is_refused() -> None:
    receipt = _receipt()
    sig = receipt.signature
    # The last character of 64 bytes in base64 carries 4 spare bits: flip one of them.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(sig[-1])
    twin = sig[:-1] + alphabet[last ^ 1]
    assert unb64(twin) == unb64(sig)
    assert not canonical_b64(twin)
    assert not dataclasses.replace(receipt, signature=twin).verify()


def test_unsigned_receipt_does_not_verify() -> None:
    assert not dataclasses.replace(_receipt(), signature="").verify()


@pytest.mark.parametrize(
    "change",
    [
        {"timings": {"run_ms": -1}},
        {"timings": {"run_ms": 1.5}},
        {"timings": {"run_ms": True}},
        {"timings": []},
        {"job_id": ""},
        {"nonce": 7},
        {"extra": 1},
    ],
)
def test_from_dict_is_strict(change: dict[str, object]) -> None:
    with pytest.raises(MalformedReceipt):
        Receipt.from_dict({**_receipt().to_dict(), **change})


def test_a_receipt_is_verified_once_and_a_parsed_copy_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def counting(public_key: str, message: bytes, signature: str) -> bool:
        calls.append(signature)
        return verify_strict(public_key, message, signature)

    monkeypatch.setattr(receipts, "verify_strict", counting)
    receipt = _receipt()
    assert receipt.verify() and receipt.verify()
    assert len(calls) == 1
    assert Receipt.from_dict(receipt.to_dict()).verify()
    assert len(calls) == 2
    assert not dataclasses.replace(receipt, nonce="n-2").verify()  # a changed copy: checked
    assert len(calls) == 3
