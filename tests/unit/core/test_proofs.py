import dataclasses
import json

import pytest

from swarmgen.core import credits
from swarmgen.core.ledger import Ledger
from swarmgen.core.proofs import EntryProof, JobProof, prove_job, verify_proof
from swarmgen.core.receipts import Receipt
from swarmgen.core.seal import EpochSeal, seal_ledger
from swarmgen.core.signing import KeyPair
from swarmgen.errors import NotFound

COORDINATOR = KeyPair.from_seed(b"c" * 32)
WORKER = KeyPair.from_seed(b"w" * 32)


def _sealed() -> tuple[Ledger, list[EpochSeal]]:
    ledger, seals = Ledger(), []
    ledger.append([credits.grant("alice", 1000)], epoch=0)
    for epoch, job in ((0, "j1"), (0, "j2"), (1, "j3")):
        ledger.append([credits.reserve(ledger.balances, "alice", job, 100)], epoch)
        receipt = Receipt.signed(
            WORKER,
            job_id=job,
            input_digest="i",
            output_digest="o",
            artifact_digest="a",
            timings={"run_ms": 5},
        )
        ledger.append(credits.complete(ledger.balances, job, "alice", receipt, 100_000), epoch)
        if job != "j1":
            seals.append(seal_ledger(ledger, epoch, COORDINATOR))
    return ledger, seals


def test_a_job_proof_verifies_offline_and_round_trips() -> None:
    ledger, seals = _sealed()
    proof = prove_job(ledger.entries, seals, "j2")
    assert [p.entry.kind.value for p in proof.proofs] == ["reserve", "release", "validator_fee"]
    assert proof.verify(COORDINATOR.public_key)
    parsed = JobProof.from_dict(json.loads(json.dumps(proof.to_dict())))
    assert parsed == proof and parsed.verify(COORDINATOR.public_key)
    later = prove_job(ledger.entries, seals, "j3")
    assert all(p.seal.epoch == 1 for p in later.proofs) and later.verify(COORDINATOR.public_key)


def test_tampering_with_any_part_fails() -> None:
    ledger, seals = _sealed()
    good = prove_job(ledger.entries, seals, "j1").proofs[1]
    key = COORDINATOR.public_key
    assert verify_proof(good, good.seal, key)
    posting = dataclasses.replace(good.entry.posting, amount=good.entry.amount + 1)
    other_seal = prove_job(ledger.entries, seals, "j3").proofs[0].seal
    bad = [
        (
            dataclasses.replace(good, entry=dataclasses.replace(good.entry, posting=posting)),
            good.seal,
        ),
        (dataclasses.replace(good, path=dataclasses.replace(good.path, index=0)), good.seal),
        (dataclasses.replace(good, seal=other_seal), other_seal),
        (good, other_seal),
        (good, dataclasses.replace(good.seal, count=good.seal.count + 1)),
    ]
    for proof, seal in bad:
        assert not verify_proof(proof, seal, key)
    assert not verify_proof(good, good.seal, WORKER.public_key)
    forged_receipt = dataclasses.replace(good.entry.posting.receipt, nonce="again")  # type: ignore[type-var]
    forged = dataclasses.replace(good.entry.posting, receipt=forged_receipt)
    assert not verify_proof(
        dataclasses.replace(good, entry=dataclasses.replace(good.entry, posting=forged)),
        good.seal,
        key,
    )


def test_a_proof_is_only_for_its_job() -> None:
    ledger, seals = _sealed()
    proof = prove_job(ledger.entries, seals, "j1")
    assert not dataclasses.replace(proof, job_id="j2").verify(COORDINATOR.public_key)
    assert not JobProof("j1", ()).verify(COORDINATOR.public_key)


def test_unknown_or_unsealed_jobs_have_no_proof() -> None:
    ledger, seals = _sealed()
    with pytest.raises(NotFound):
        prove_job(ledger.entries, seals, "nope")
    with pytest.raises(NotFound):
        prove_job(ledger.entries, seals[:1], "j3")


@pytest.mark.parametrize("shape", [{}, {"entry": {}, "path": {}, "seal": {}}, []])
def test_malformed_proofs_are_refused(shape: object) -> None:
    with pytest.raises(ValueError):
        EntryProof.from_dict(shape)
