"""Validation by re-execution in the running coordinator, on SQLite and PostgreSQL.

Workers are new here (reputation 0), so every completed job is drawn for a check.
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import delete
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo
from typer.testing import CliRunner

from swarmgen.backends.echo import EchoBackend
from swarmgen.cli.main import app as cli
from swarmgen.coordinator.auditing import entries
from swarmgen.coordinator.sampling import audit_epoch
from swarmgen.core import accounts
from swarmgen.core.jobs import ImageSpec, Job, spec_from_canonical
from swarmgen.core.ledger import EntryKind
from swarmgen.core.offerings import Offering
from swarmgen.core.outputs import ImageOutput, TextOutput
from swarmgen.core.receipts import Receipt
from swarmgen.sdk.client import SwarmgenAPIError
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.store import schema as t
from swarmgen.worker.daemon import result_payload


def owned(env: Env, owner: str, name: str | None = None) -> WorkerClient:
    """A worker registered under ``owner`` (created on first use)."""
    if env.reads.users.by_name(owner) is None:
        env.new_key(owner)
    worker = env.worker()
    worker.owner_key = env.new_key(owner)
    worker.register(name or f"{owner}-w", MODELS, 1024 * 1024, 4)
    return worker


def noise_png(width: int, height: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def signed(worker: WorkerClient, job: Job, output: ImageOutput | TextOutput) -> dict[str, Any]:
    receipt = Receipt.signed(
        worker.keys,
        job_id=job.id,
        input_digest=job.input_digest(),
        output_digest=output.digest(),
        artifact_digest=output.digest(),
        timings={"run_ms": 1},
    )
    return result_payload(job, output, receipt)


def job_of(assignment: dict[str, Any]) -> Job:
    offering = Offering.parse(assignment["model"])
    spec = spec_from_canonical(assignment["spec"])
    return Job(assignment["job_id"], offering, spec, sampling_id=assignment["sampling_id"])


def run_noise(worker: WorkerClient, assignment: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """A cheater's result: random pixels of the right size."""
    job = job_of(assignment)
    spec = job.spec
    assert isinstance(spec, ImageSpec)
    images = tuple(noise_png(spec.width, spec.height, seed + i) for i in range(spec.n))
    return signed(worker, job, ImageOutput(images))


def pop_one(worker: WorkerClient) -> dict[str, Any]:
    (assignment,) = worker.pop(0, 1)
    return assignment


def stake(env: Env, owner: str, worker: WorkerClient, amount: int) -> None:
    """Grant ``owner`` ``amount`` and lock it behind its ``worker`` (the real API)."""
    env.http.app.state.credits.grant(owner, amount)
    worker.lock_stake(amount)


def seated(env: Env, job_id: str, workers: list[WorkerClient]) -> WorkerClient:
    """The one of ``workers`` drawn for a queued seat on ``job_id``'s panel (the first
    such, in ``workers`` order)."""
    drawn = {j.assigned_worker for j in env.reads.seats.queued_seats() if j.validates == job_id}
    found = [w for w in workers if w.keys.public_key in drawn]
    assert found, f"no seat on {job_id} is drawn for these workers"
    return found[0]


def complete(env: Env, worker: WorkerClient, cheat: bool = False) -> str:
    """Submit an image job, let ``worker`` run it (honestly or not); returns its id."""
    job_id = str(env.submit(env.image(width=64, height=64))["id"])
    assignment = pop_one(worker)
    assert assignment["job_id"] == job_id
    worker.submit([run_noise(worker, assignment) if cheat else run_echo(worker, assignment)])
    return job_id


def check(env: Env, job_id: str) -> Any:
    found = env.reads.validations.get_check(job_id)
    assert found is not None
    return found


def ballots(env: Env, job_id: str) -> list[Any]:
    return list(env.reads.validations.ballots(job_id))


def verdict_entries(env: Env) -> dict[str, dict[str, Any]]:
    return {
        accounts.account_id(e.posting.debit): dict(e.posting.memo)
        for e in entries(env.store)
        if e.kind is EntryKind.VERDICT
    }


def test_an_image_validation_job_looks_like_the_job_and_agreement_upholds(env: Env) -> None:
    state = env.http.app.state
    claimant, validator = owned(env, "ann"), owned(env, "bob")
    job_id = complete(env, claimant)
    original = env.reads.jobs.get(job_id)
    assert original.sample_rate == 1.0 and check(env, job_id).status == "pending"
    assert claimant.pop(0) == []  # never its own claim
    assignment = pop_one(validator)
    assert assignment["job_id"] != job_id
    assert assignment["spec"] == original.spec
    assert assignment["input_digest"] == original.input_digest
    assert assignment["sampling_id"] is None
    validator.submit([run_echo(validator, assignment)])
    assert check(env, job_id).status == "upheld"
    assert [b.vote for b in ballots(env, job_id)] == ["agree"]

    state.epochs.close_due(force=True)
    verdicts = verdict_entries(env)
    assert verdicts[claimant.keys.public_key]["invalid"] == 0
    assert verdicts[validator.keys.public_key]["checks"] == 1
    rewards = env.reads.ledger.kind_entries(
        EntryKind.VALIDATOR_REWARD, accounts.worker(validator.keys.public_key)
    )
    assert [e.posting.memo["checks"] for e in rewards] == [1]


def test_validation_never_goes_to_the_claimant_its_owner_or_a_panel_member(env: Env) -> None:
    claimant, sibling = owned(env, "ann", "ann-1"), owned(env, "ann", "ann-2")
    validators = [owned(env, "bob"), owned(env, "cat")]
    job_id = complete(env, claimant, cheat=True)
    assert sibling.pop(0) == []
    first = seated(env, job_id, validators)
    (second,) = [v for v in validators if v is not first]
    assert second.pop(0) == []  # polling gets no seat: it goes to the drawn worker
    held = pop_one(first)
    first.submit([run_echo(first, held)])  # disagrees: two more validators needed
    assert check(env, job_id).status == "pending"
    assert sibling.pop(0) == [] and claimant.pop(0) == []
    assert first.pop(0) == []  # already on the panel
    assert len(second.pop(0, 4)) == 1  # one seat per worker, even in a batch


def test_disagreement_escalates_to_three_then_five_and_the_majority_decides(env: Env) -> None:
    claimant = owned(env, "ann")
    panel = [owned(env, f"v{i}") for i in range(5)]
    job_id = complete(env, claimant)
    votes = [False, True, False, True, True]  # True: runs honestly (agrees)
    order: list[WorkerClient] = []
    for honest in votes:
        validator = seated(env, job_id, [v for v in panel if v not in order])
        order.append(validator)
        assignment = pop_one(validator)
        result = run_echo(validator, assignment) if honest else run_noise(validator, assignment)
        validator.submit([result])
    assert [b.vote for b in ballots(env, job_id)] == [
        "agree" if honest else "disagree" for honest in votes
    ]
    # stage 1 disagreed, stage 3 split 2-1, stage 5 upholds 3-2: the dissenters lose
    decided = check(env, job_id)
    assert decided.status == "upheld"
    penalised = {b.validator_id for b in ballots(env, job_id) if b.penalised}
    assert penalised == {
        v.keys.public_key for v, honest in zip(order, votes, strict=True) if not honest
    }

    env.http.app.state.epochs.close_due(force=True)
    verdicts = verdict_entries(env)
    assert verdicts[claimant.keys.public_key]["failures"] == 0
    assert verdicts[order[0].keys.public_key]["lost_ballots"] == job_id


def test_three_disagreeing_validators_reject_a_cheat(env: Env) -> None:
    cheat = owned(env, "ann")
    panel = [owned(env, f"v{i}") for i in range(3)]
    job_id = complete(env, cheat, cheat=True)
    for _ in panel:
        validator = seated(env, job_id, panel)
        validator.submit([run_echo(validator, pop_one(validator))])
    decided = check(env, job_id)
    assert decided.status == "rejected"
    assert not any(b.penalised for b in ballots(env, job_id))


def test_an_expired_validation_is_a_missed_seat_not_a_failed_check(env: Env) -> None:
    state = env.http.app.state
    claimant, validators = owned(env, "ann"), [owned(env, "bob"), owned(env, "cat")]
    job_id = complete(env, claimant)
    lazy = seated(env, job_id, validators)
    (honest,) = [v for v in validators if v is not lazy]
    assignment = pop_one(lazy)
    wrong = run_echo(lazy, assignment)
    wrong["images"] = [run_noise(lazy, assignment)["images"][0][:100]]  # a truncated PNG
    with pytest.raises(SwarmgenAPIError) as refused:
        lazy.submit([wrong])
    assert refused.value.status == 422
    env.clock.advance((int(assignment["lease_expires_ms"]) - env.clock.now_ms()) / 1000 + 0.01)
    state.reaper.reap()
    assert ballots(env, job_id) == []  # no ballot: a miss is not a vote
    seat = env.reads.jobs.get(assignment["job_id"])  # drawn again, among the others
    assert (seat.state.value, seat.worker_id) == ("queued", None)
    assert seat.assigned_worker == honest.keys.public_key
    epoch = env.reads.ledger.open_epoch().epoch
    records = env.reads.validations.seat_records(epoch)
    assert (records[lazy.keys.public_key].missed, records[lazy.keys.public_key].served) == (1, 0)
    assert lazy.pop(0) == []  # it had its turn
    honest.submit([run_echo(honest, pop_one(honest))])
    assert check(env, job_id).status == "upheld"
    assert [(b.validator_id, b.penalised) for b in ballots(env, job_id)] == [
        (honest.keys.public_key, False)
    ]


def test_a_text_validation_job_is_blinded_and_draws_with_the_originals_sampling_id(
    env: Env,
) -> None:
    claimant, validator = owned(env, "ann"), owned(env, "bob")
    honest_id = str(env.submit(env.text(max_tokens=12, temperature=0.8))["id"])
    original = pop_one(claimant)
    claimant.submit([run_echo(claimant, original)])
    assignment = pop_one(validator)
    assert set(assignment) == set(original)  # nothing extra says "validation"
    assert assignment["job_id"] != honest_id
    assert (
        assignment["sampling_id"]
        == original["sampling_id"]
        == (env.reads.jobs.get(honest_id).sampling_id)
    )
    assert {k: assignment[k] for k in ("spec", "input_digest", "model")} == {
        k: original[k] for k in ("spec", "input_digest", "model")
    }
    validator.submit([run_echo(validator, assignment)])
    assert check(env, honest_id).status == "upheld"

    cheat_id = str(env.submit(env.text(max_tokens=12, temperature=0.8))["id"])
    held = pop_one(claimant)
    output = EchoBackend(Offering.parse(held["model"]), job_of(held).kind).run([job_of(held)])[0]
    assert isinstance(output, TextOutput)
    forged = replace(output, token_ids=tuple(10_000 for _ in output.token_ids))
    claimant.submit([signed(claimant, job_of(held), forged)])
    validator.submit([run_echo(validator, pop_one(validator))])
    (ballot,) = ballots(env, cheat_id)
    assert (ballot.vote, ballot.reason) == ("disagree", "different_choice")


def test_text_jobs_get_distinct_sampling_ids_and_image_jobs_none(env: Env) -> None:
    first = str(env.submit(env.text(seed=5))["id"])
    second = str(env.submit(env.text(seed=5))["id"])
    image = str(env.submit(env.image(width=64, height=64))["id"])
    ids = [env.reads.jobs.get(job_id).sampling_id for job_id in (first, second, image)]
    assert ids[0] and ids[1] and ids[0] != ids[1] and ids[2] is None


def test_a_cheater_is_invalidated_for_the_epoch_and_its_requesters_refunded(env: Env) -> None:
    state = env.http.app.state
    fair = owned(env, "ann")
    validators = [owned(env, "bob"), owned(env, "cat")]
    alice = accounts.user(env.reads.users.by_name("alice").id)  # type: ignore[union-attr]

    def validate() -> None:
        while any(pending := [v.pop(0, 1) for v in validators]):
            for validator, held in zip(validators, pending, strict=True):
                if held:
                    validator.submit([run_echo(validator, held[0])])

    honest = [complete(env, fair) for _ in range(2)]
    validate()
    cheat = owned(env, "mal")  # joins now, so it is drawn for none of the fair panels
    validators.append(fair)  # three owners can be drawn for the cheat's panels
    cheated = [complete(env, cheat, cheat=True) for _ in range(4)]
    validate()
    before = env.reads.ledger.balance(alice)
    state.epochs.close_due(force=True)
    # three validators, drawn one then two: each of the cheat's panels rejects 3-0
    assert {check(env, j).status for j in cheated} == {"rejected"}
    assert {check(env, j).status for j in honest} == {"upheld"}
    assert verdict_entries(env)[cheat.keys.public_key]["invalid"] == 1
    assert verdict_entries(env)[fair.keys.public_key]["invalid"] == 0
    views = [env.http.get(f"/api/v1/jobs/{j}", headers=env.auth).json() for j in cheated]
    assert {v["payment"] for v in views} == {"forfeited"}
    refunded = sum(int(e.amount) for e in env.reads.ledger.kind_entries(EntryKind.FORFEIT, alice))
    assert refunded > 0 and env.reads.ledger.balance(alice) == before + refunded
    mal = env.reads.users.by_name("mal")
    assert mal is not None and env.reads.ledger.balance(accounts.user(mal.id)) == 0


def test_clean_epochs_build_reputation_and_lower_the_rate(env: Env) -> None:
    state = env.http.app.state
    claimant, validator = owned(env, "ann"), owned(env, "bob")
    complete(env, claimant)
    validator.submit([run_echo(validator, pop_one(validator))])
    state.epochs.close_due(force=True)
    later = env.reads.jobs.get(complete(env, claimant))
    assert later.sample_rate is not None and 0 < later.sample_rate < 1.0


def test_the_sampling_audit_confirms_the_draw_and_catches_a_skipped_check(env: Env) -> None:
    state = env.http.app.state
    claimant = owned(env, "ann")
    jobs = [complete(env, claimant) for _ in range(3)]
    state.epochs.close_due(force=True)
    audit = audit_epoch(env.store, 0)
    assert audit.ok and set(audit.report.required) == set(jobs)
    url = ["--database-url", env.store.url]
    runner = CliRunner()
    passed = runner.invoke(cli, ["audit", "sampling", "0", "--data", str(env.data), *url])
    assert passed.exit_code == 0, passed.output
    with env.store.engine.begin() as conn:  # the coordinator "forgets" one of its checks
        conn.execute(delete(t.checks).where(t.checks.c.job_id == jobs[1]))
    caught = audit_epoch(env.store, 0)
    assert not caught.ok and caught.report.missing == (jobs[1],)
    failed = runner.invoke(cli, ["audit", "sampling", "0", "--data", str(env.data), *url])
    assert failed.exit_code == 1 and jobs[1] in failed.output
    unrevealed = runner.invoke(cli, ["audit", "sampling", "1", "--data", str(env.data), *url])
    assert unrevealed.exit_code == 2


def test_a_trusted_swarm_can_switch_verification_off(env: Env) -> None:
    from fastapi.testclient import TestClient

    from swarmgen.coordinator.app import create_app
    from swarmgen.coordinator.settings import CoordinatorSettings

    settings = CoordinatorSettings(data=env.data, verify=False, min_stake=0)
    with TestClient(create_app(settings, store=env.store, clock=env.clock)) as http:
        trusted = Env(http, env.store, env.clock, env.key, env.data)
        claimant, other = owned(trusted, "ann"), owned(trusted, "bob")
        job_id = complete(trusted, claimant)
        assert trusted.reads.jobs.get(job_id).sample_rate is None  # no draw at all
        assert other.pop(0) == []  # and so no validation job


def test_a_clean_verification_verdict_never_clears_an_operators_conviction(env: Env) -> None:
    state = env.http.app.state
    claimant, validator = owned(env, "ann"), owned(env, "bob")
    job_id = complete(env, claimant)
    validator.submit([run_echo(validator, pop_one(validator))])
    assert check(env, job_id).status == "upheld"
    epoch = env.reads.ledger.open_epoch().epoch
    state.epochs.record_verdict(claimant.keys.public_key, epoch, True, {"by": "operator"})
    state.epochs.record_verdict(claimant.keys.public_key, epoch, False, {"by": "appeal"})
    state.epochs.close_due(force=True)
    assert verdict_entries(env)[claimant.keys.public_key]["invalid"] == 0  # checks were clean
    invalid, evidence = env.reads.verdicts.get(epoch, claimant.keys.public_key)
    assert invalid  # and yet the conviction stands, with every verdict kept as evidence
    assert evidence["earlier"] == {"by": "appeal", "earlier": {"by": "operator"}}
    view = env.http.get(f"/api/v1/jobs/{job_id}", headers=env.auth).json()
    assert view["payment"] == "forfeited"


def test_a_free_key_polling_constantly_gets_no_seat_only_ordinary_work(env: Env) -> None:
    """Without a minimum stake an unowned key may run ordinary jobs, but it is never
    drawn: however fast it polls, every seat goes to the drawn validator."""
    claimant, validator = owned(env, "ann"), owned(env, "bob")
    free = env.worker()
    free.register("free", MODELS, 1024 * 1024, 4)
    for _ in range(3):
        job_id = complete(env, claimant)
        for _ in range(10):
            assert free.pop(0, 4) == []
        assert seated(env, job_id, [validator, free]) is validator
        validator.submit([run_echo(validator, pop_one(validator))])
        assert check(env, job_id).status == "upheld"
    plain = str(env.submit(env.image(width=64, height=64))["id"])
    assert [a["job_id"] for a in free.pop(0, 4)] == [plain]
