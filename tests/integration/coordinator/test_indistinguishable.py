"""A validation job looks like an ordinary one to the worker that leases it.

Field by field: the assignment, the lease, the answers to heartbeat, release and
submit, the job as seen by the worker's owner through the requester API, and the
public ledger, which serves neither job while it is open and both after the seal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo
from typer.testing import CliRunner

from swarmgen.cli.main import app as cli
from swarmgen.core.audit import load_export
from swarmgen.sdk.client import SwarmgenAPIError
from swarmgen.sdk.worker_client import WorkerClient

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def owned(env: Env, owner: str) -> tuple[WorkerClient, str]:
    """A worker registered under ``owner``, and the owner's own API key."""
    key = env.new_key(owner)
    worker = env.worker()
    worker.owner_key = key
    worker.register(f"{owner}-w", MODELS, 1024 * 1024, 8)
    return worker, key


@dataclass(frozen=True)
class Pair:
    validation: dict[str, Any]
    ordinary: dict[str, Any]
    worker: WorkerClient
    owner_key: str


def pop_pair(env: Env, body: dict[str, object]) -> Pair:
    """A claim by ann's worker, then bob's worker leases its check and a new ordinary job
    of the same shape in one pop."""
    ann, _ = owned(env, "ann")
    bob, bob_key = owned(env, "bob")
    claim = env.submit(body)
    (leased,) = ann.pop(0)
    ann.submit([run_echo(ann, leased)])
    ordinary = env.submit(body)
    popped = bob.pop(0, 8)
    assert len(popped) == 2
    by_id = {a["job_id"]: a for a in popped}
    validation_id = next(i for i in by_id if env.reads.jobs.get(i).validates == claim["id"])
    ordinary_id = str(ordinary["id"])
    return Pair(by_id[validation_id], by_id[ordinary_id], bob, bob_key)


def same_shape(validation: dict[str, Any], ordinary: dict[str, Any]) -> None:
    assert set(validation) == set(ordinary)
    assert HEX32.match(validation["job_id"]) and HEX32.match(ordinary["job_id"])
    assert validation["model"] == ordinary["model"]
    assert set(validation["spec"]) == set(ordinary["spec"])
    assert {k: v for k, v in validation["spec"].items() if k not in {"seed", "prompt"}} == {
        k: v for k, v in ordinary["spec"].items() if k not in {"seed", "prompt"}
    }
    assert HEX64.match(validation["input_digest"]) and HEX64.match(ordinary["input_digest"])
    # leased in one pop: the same lease length to the millisecond
    assert validation["lease_expires_ms"] == ordinary["lease_expires_ms"]
    for field in ("sampling_id",):
        if ordinary[field] is None:
            assert validation[field] is None
        else:
            assert HEX32.match(validation[field]) and HEX32.match(ordinary[field])
            assert validation[field] != validation["job_id"]
            assert ordinary[field] != ordinary["job_id"]


@pytest.mark.parametrize("kind", ["image", "text"])
def test_an_assignment_is_the_same_field_by_field(env: Env, kind: str) -> None:
    body = env.image(width=64, height=64) if kind == "image" else env.text(max_tokens=8)
    pair = pop_pair(env, body)
    same_shape(pair.validation, pair.ordinary)


def without(text: str, *ids: str) -> str:
    for job_id in ids:
        text = text.replace(job_id, "JOB")
    return text


def test_heartbeat_release_and_errors_say_the_same(env: Env) -> None:
    pair = pop_pair(env, env.image(width=64, height=64))
    validation, ordinary, bob, bob_key = pair.validation, pair.ordinary, pair.worker, pair.owner_key
    v, o = validation["job_id"], ordinary["job_id"]
    assert bob.heartbeat([v]) == bob.heartbeat([o])
    # the owner looks both up as a requester: the same refusal, naming no one
    headers = {"Authorization": f"Bearer {bob_key}"}
    seen = [env.http.get(f"/api/v1/jobs/{job}", headers=headers) for job in (v, o)]
    assert [r.status_code for r in seen] == [404, 404]
    assert without(seen[0].text, v) == without(seen[1].text, o)
    # a result for the wrong input is refused the same way, naming neither claim nor claimant
    refusals = []
    for job, other in ((validation, ordinary), (ordinary, validation)):
        wrong = run_echo(bob, {**job, "spec": other["spec"]})
        with pytest.raises(SwarmgenAPIError) as refused:
            bob.submit([wrong])
        refusals.append((refused.value.status, without(str(refused.value), v, o)))
    assert refusals[0] == refusals[1]
    claimant = env.reads.jobs.get(env.reads.jobs.get(v).validates).worker_id
    assert claimant not in refusals[0][1]
    assert bob.release([v]) == bob.release([o])


def test_the_export_shows_neither_while_open_and_both_after_the_seal(env: Env) -> None:
    state = env.http.app.state
    pair = pop_pair(env, env.image(width=64, height=64))
    validation, ordinary, bob = pair.validation, pair.ordinary, pair.worker
    v, o = validation["job_id"], ordinary["job_id"]

    def published() -> str:
        return env.http.get("/api/v1/ledger/export").text

    before = published()
    assert v not in before and o not in before
    proofs = [env.http.get(f"/api/v1/ledger/proofs/{job}") for job in (v, o)]
    assert [p.status_code for p in proofs] == [404, 404]
    assert without(proofs[0].text, v) == without(proofs[1].text, o)

    state.epochs.close_due(force=True)  # sealed while both are leased: still withheld
    during = published()
    assert v not in during and o not in during
    assert not load_export(during.splitlines(keepends=True)).seals

    bob.submit([run_echo(bob, validation), run_echo(bob, ordinary)])
    state.epochs.close_due(force=True)
    # the ordinary job's check (bob is new) is pending, so epoch 1 waits; epoch 0 is out
    after = load_export(published().splitlines(keepends=True))
    assert [seal.epoch for seal in after.seals] == [0]
    entries_of = {e.job_id for e in after.entries}
    assert o in entries_of  # its price was reserved in epoch 0, and it is over
    # the validation job reserved nothing: after the seal a reader may tell it was a check
    assert v not in entries_of


def test_the_cli_writes_what_is_published_or_the_whole_ledger(env: Env, tmp_path: Path) -> None:
    state = env.http.app.state
    pair = pop_pair(env, env.image(width=64, height=64))
    state.epochs.close_due(force=True)
    url = ["--database-url", env.store.url]
    runner = CliRunner()
    published, whole = tmp_path / "published.jsonl", tmp_path / "whole.jsonl"
    base = ["ledger", "export", "--data", str(env.data), *url]
    assert runner.invoke(cli, [*base, str(published), "--published"]).exit_code == 0
    assert runner.invoke(cli, [*base, str(whole)]).exit_code == 0
    assert published.read_text() == env.http.get("/api/v1/ledger/export").text
    assert pair.ordinary["job_id"] not in published.read_text()
    assert pair.ordinary["job_id"] in whole.read_text()  # the operator's own copy
    for export in (published, whole):
        assert runner.invoke(cli, ["ledger", "verify", str(export)]).exit_code == 0


@pytest.mark.parametrize("settings_overrides", [{"queue_ttl_s": 30}])
def test_an_open_job_holds_its_epoch_back_however_many_closes_pass(env: Env) -> None:
    """Published, a queued job's reservation would tell the worker that later leases it
    that it is no seat (a seat reserves nothing): so its epoch stays unpublished while
    the job is open, with no cap. A job no worker takes expires (``queue_ttl_s``) and
    lets its epoch go."""
    state = env.http.app.state
    submitted = {str(env.submit(env.image(width=64, height=64))["id"]) for _ in range(2)}
    worker, _ = owned(env, "ann")
    (leased,) = worker.pop(0, 1)
    leased_id = leased["job_id"]
    (untaken_id,) = submitted - {leased_id}
    for _ in range(6):
        state.epochs.close_due(force=True)

    def published() -> str:
        return env.http.get("/api/v1/ledger/export").text

    def proof(job_id: str) -> int:
        return env.http.get(f"/api/v1/ledger/proofs/{job_id}").status_code

    assert leased_id not in published() and proof(leased_id) == 404
    worker.submit([run_echo(worker, leased)])
    assert leased_id not in published()  # the untaken job holds their epoch still
    assert (proof(leased_id), proof(untaken_id)) == (404, 404)
    env.clock.advance(31)
    assert untaken_id in state.reaper.reap()[1]
    export = load_export(published().splitlines(keepends=True))
    assert 0 in {seal.epoch for seal in export.seals}
    assert (proof(leased_id), proof(untaken_id)) == (200, 200)
