"""Worker endpoints: signatures, leasing, results, heartbeats, hand-backs and expiry."""

from __future__ import annotations

import json
import time

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo

from swarmgen.core.signing import KeyPair, sign_request
from swarmgen.protocol.workers import MAX_HELD, MAX_JOBS
from swarmgen.sdk.client import SwarmgenAPIError


def signed_post(env: Env, keys: KeyPair, path: str, body: object, **override: object):
    data = json.dumps(body).encode()
    ts = int(override.pop("ts", time.time()))
    headers = sign_request(keys, "POST", path, data, ts, **override)  # type: ignore[arg-type]
    return env.http.post(path, content=data, headers=headers)


def error_code(exc: pytest.ExceptionInfo[SwarmgenAPIError]) -> tuple[int, str]:
    return exc.value.status, exc.value.code


def test_register_and_reregister(env: Env) -> None:
    worker = env.worker()
    out = worker.register("gpu-1", MODELS, 4096, 2)
    assert out["worker_id"] == worker.keys.public_key
    assert out["models"] == MODELS
    again = worker.register("gpu-1b", MODELS[:1], 4096, 2)
    assert again["models"] == MODELS[:1]


def test_register_with_owner_key_binds_the_owner(env: Env) -> None:
    worker = env.worker()
    worker.owner_key = env.key
    assert worker.register("w", MODELS, 4096, 1)["owner_id"]


@pytest.mark.parametrize(
    ("models", "field"),
    [(["nope@fp32"], "capabilities.models[0]"), (["echo-image"], "capabilities.models[0]")],
)
def test_register_refuses_unknown_models(env: Env, models: list[str], field: str) -> None:
    with pytest.raises(SwarmgenAPIError) as exc:
        env.worker().register("w", models, 4096, 1)
    assert exc.value.status == 422
    assert exc.value.details["fields"][0]["field"] == field


def test_unsigned_bad_signature_stale_and_replayed_requests(env: Env) -> None:
    keys, other = KeyPair.generate(), KeyPair.generate()
    path = "/api/v1/workers/heartbeat"
    unsigned = env.http.post(path, json={})
    assert (unsigned.status_code, unsigned.json()["error"]["code"]) == (401, "unauthorized")
    data = b"{}"
    headers = sign_request(other, "POST", path, data, int(time.time()))
    headers["X-Swarmgen-Key"] = keys.public_key
    forged = env.http.post(path, content=data, headers=headers)
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "bad_signature")
    stale = signed_post(env, keys, path, {}, ts=time.time() - 3600)
    assert (stale.status_code, stale.json()["error"]["code"]) == (401, "stale_timestamp")
    env.worker(keys).register("w", MODELS, 4096, 1)
    first = signed_post(env, keys, path, {}, nonce="n" * 16)
    assert first.status_code == 200
    replay = signed_post(env, keys, path, {}, nonce="n" * 16)
    assert (replay.status_code, replay.json()["error"]["code"]) == (409, "replayed_nonce")


def test_a_refused_request_s_nonce_is_spent_too(env: Env) -> None:
    """A pop refused (its key not registered yet), or with a body its route refuses,
    records its nonce as a pop that leases does: replayed once the worker is registered
    and a job waits, neither leases it; both are refused as replays."""
    keys = KeyPair.generate()
    path = "/api/v1/workers/pop"
    refused = signed_post(env, keys, path, {"wait_s": 0}, nonce="r" * 16)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    invalid = signed_post(env, keys, path, {"wait_s": -1}, nonce="i" * 16)
    assert invalid.status_code == 422
    env.worker(keys).register("w", MODELS, 4096, 1)
    job_id = env.submit(env.image())["id"]
    for nonce in ("r" * 16, "i" * 16):
        replay = signed_post(env, keys, path, {"wait_s": 0}, nonce=nonce)
        assert (replay.status_code, replay.json()["error"]["code"]) == (409, "replayed_nonce")
    assert env.http.get(f"/api/v1/jobs/{job_id}", headers=env.auth).json()["state"] == "queued"


def test_an_empty_pop_writes_once_and_its_nonce_with_it(env: Env) -> None:
    """A pop that finds nothing makes one write transaction: the one that marks the
    worker seen also records the request's nonce (:mod:`swarmgen.store.pending`)."""
    from sqlalchemy import event

    keys = KeyPair.generate()
    env.worker(keys).register("w", MODELS, 4096, 1)
    engine = env.http.app.state.store.engine
    wrote: set[int] = set()
    commits: list[object] = []  # write transactions only: the app's periodic tasks may
    # read (and commit their reads) meanwhile

    def writes(conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            wrote.add(id(conn))

    def committed(conn: object) -> None:
        if id(conn) in wrote:
            wrote.discard(id(conn))
            commits.append(conn)

    event.listen(engine, "before_cursor_execute", writes)
    event.listen(engine, "commit", committed)
    try:
        first = signed_post(env, keys, "/api/v1/workers/pop", {"wait_s": 0}, nonce="e" * 16)
        assert first.status_code == 200 and first.json()["jobs"] == []
        assert len(commits) == 1
    finally:
        event.remove(engine, "commit", committed)
        event.remove(engine, "before_cursor_execute", writes)
    replay = signed_post(env, keys, "/api/v1/workers/pop", {"wait_s": 0}, nonce="e" * 16)
    assert (replay.status_code, replay.json()["error"]["code"]) == (409, "replayed_nonce")


def test_an_idle_second_of_the_periodic_work_writes_nothing(env: Env) -> None:
    """With nothing expired, nothing queued too long and no epoch due, the reaper's and
    the epoch closer's passes only read: neither queues for the writer (SQLite's
    ``BEGIN IMMEDIATE``) nor takes the ledger's lock, which every submit needs (nor, on
    PostgreSQL, chains an empty journal). A lease that runs out is still reaped."""
    from sqlalchemy import event

    state = env.http.app.state
    state.reaper.reap()  # the first pass prunes nonces (once per clock skew)
    worker = env.worker()
    worker.register("w", MODELS, 4096, 1)
    job_id = env.submit(env.image())["id"]
    (leased,) = worker.pop(0, 1)
    state.store.chain_journal()  # the submit's money, journaled on PostgreSQL
    engine = state.store.engine
    statements: list[str] = []

    def executed(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()))

    def writes() -> list[str]:
        return [
            s
            for s in statements
            if not (s.startswith("SELECT") or s == "BEGIN")  # a plain BEGIN waits for nobody
            or "advisory" in s
            or "FOR UPDATE" in s
        ]

    event.listen(engine, "before_cursor_execute", executed)
    try:
        assert state.reaper.reap() == ([], [])
        assert state.epochs.close_due() is None
        assert statements and writes() == []
        env.clock.ms += 60_000  # past the lease (lease_min_s 5), within the queue's TTL
        assert state.reaper.reap() == ([job_id], [])
        assert any(s.startswith("UPDATE jobs") for s in writes())
    finally:
        event.remove(engine, "before_cursor_execute", executed)
    assert leased["job_id"] == job_id


def test_tampered_body_fails_the_signature(env: Env) -> None:
    keys = KeyPair.generate()
    path = "/api/v1/workers/pop"
    headers = sign_request(keys, "POST", path, b'{"wait_s":0}', int(time.time()))
    response = env.http.post(path, content=b'{"wait_s":1}', headers=headers)
    assert response.json()["error"]["code"] == "bad_signature"


def test_pop_requires_registration_and_validates_its_body(env: Env) -> None:
    worker = env.worker()
    with pytest.raises(SwarmgenAPIError) as exc:
        worker.pop(0)
    assert error_code(exc) == (403, "forbidden")
    worker.register("w", MODELS, 4096, 1)
    bad = signed_post(env, worker.keys, "/api/v1/workers/pop", {"wait_s": 600})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0] == {
        "field": "wait_s",
        "reason": "Input should be less than or equal to 60",
        "limit": 60.0,
    }


def test_pop_matches_model_size_and_order(env: Env) -> None:
    big = env.submit(env.image(width=128, height=128))
    env.clock.advance(0.01)
    small = env.submit(env.image())
    env.clock.advance(0.01)
    text = env.submit(env.text())
    texts_only = env.worker()
    texts_only.register("t", MODELS[1:], 1024 * 1024, 4)
    assert [a["job_id"] for a in texts_only.pop(0)] == [text["id"]]
    small_images = env.worker()
    small_images.register("s", MODELS, 64 * 64, 4)
    assert [a["job_id"] for a in small_images.pop(0)] == [small["id"]]
    everything = env.worker()
    everything.register("e", MODELS, 1024 * 1024, 4)
    (assignment,) = everything.pop(0)
    assert assignment["job_id"] == big["id"]
    assert assignment["spec"]["width"] == 128
    assert assignment["lease_expires_ms"] > env.clock.now_ms()


def test_a_pop_marks_its_worker_seen_at_most_once_a_second(env: Env) -> None:
    worker = env.worker()
    worker.register("w", MODELS, 4096, 1)
    key = worker.keys.public_key
    registered = env.reads.workers.get(key).last_seen_ms
    env.clock.advance(0.5)
    assert worker.pop(0) == []
    assert env.reads.workers.get(key).last_seen_ms == registered  # within the grain: no write
    env.clock.advance(0.5)
    assert worker.pop(0) == []
    assert env.reads.workers.get(key).last_seen_ms == registered + 1000
    env.clock.advance(0.1)
    worker.heartbeat([])  # a heartbeat marks it every time
    assert env.reads.workers.get(key).last_seen_ms == registered + 1100


def test_pop_respects_batch_size(env: Env) -> None:
    for _ in range(5):
        env.submit(env.image())
    worker = env.worker()
    worker.register("w", MODELS, 4096, 3)
    assert len(worker.pop(0)) == 3
    assert len(worker.pop(0, max_jobs=1)) == 1
    assert len(worker.pop(0)) == 1


def test_submit_only_for_own_lease(env: Env) -> None:
    job = env.submit(env.image())
    holder, thief = env.worker(), env.worker()
    holder.register("holder", MODELS, 4096, 1)
    thief.register("thief", MODELS, 4096, 1)
    (assignment,) = holder.pop(0)
    with pytest.raises(SwarmgenAPIError) as exc:
        thief.submit([run_echo(thief, assignment)])
    assert error_code(exc) == (409, "not_leased")
    assert holder.submit([run_echo(holder, assignment)])["accepted"] == [job["id"]]
    with pytest.raises(SwarmgenAPIError) as again:
        holder.submit([run_echo(holder, assignment)])
    assert error_code(again) == (409, "not_leased")


def test_bad_results_are_refused_and_the_lease_kept(env: Env) -> None:
    env.submit(env.image(n=2))
    worker = env.worker()
    worker.register("w", MODELS, 4096, 1)
    (assignment,) = worker.pop(0)
    good = run_echo(worker, assignment)
    cases = {
        "bad_signature": {**good, "receipt": {**good["receipt"], "signature": "A" * 86}},
        "invalid_request": {**good, "images": good["images"][:1]},
    }
    wrong_digest = {**good, "images": [good["images"][1], good["images"][0]]}
    cases["invalid_request "] = wrong_digest
    for code, result in cases.items():
        with pytest.raises(SwarmgenAPIError) as exc:
            worker.submit([result])
        assert exc.value.code == code.strip()
    not_png = {**good, "images": ["aGVsbG8=", good["images"][1]]}
    with pytest.raises(SwarmgenAPIError) as exc:
        worker.submit([not_png])
    assert exc.value.details["fields"][0] == {"field": "results.images[0]", "reason": "not a PNG"}
    assert worker.submit([good])["accepted"] == [assignment["job_id"]]


def test_mixed_batch_reports_rejections(env: Env) -> None:
    env.submit(env.text())
    worker = env.worker()
    worker.register("w", MODELS, 4096, 4)
    (assignment,) = worker.pop(0)
    good = run_echo(worker, assignment)
    stranger = {**good, "job_id": "0" * 32, "receipt": {**good["receipt"], "job_id": "0" * 32}}
    out = worker.submit([good, stranger])
    assert out["accepted"] == [assignment["job_id"]]
    assert out["rejected"][0]["code"] == "not_found"


def test_heartbeat_extends_and_release_requeues(env: Env) -> None:
    job = env.submit(env.image())
    worker = env.worker()
    worker.register("w", MODELS, 4096, 1)
    (assignment,) = worker.pop(0)
    env.clock.advance(4)
    assert worker.heartbeat([job["id"]])["count"] == 1
    env.clock.advance(4)  # past the first expiry, within the extended one
    env.http.app.state.reaper.reap()
    assert env.reads.jobs.get(job["id"]).state.value == "leased"
    assert worker.release([job["id"]])["count"] == 1
    assert env.reads.jobs.get(job["id"]).state.value == "queued"
    other = env.worker()
    other.register("o", MODELS, 4096, 1)
    assert [a["job_id"] for a in other.pop(0)] == [assignment["job_id"]]


def test_a_worker_holding_three_full_pops_keeps_and_hands_back_every_lease(env: Env) -> None:
    """A worker runs one pop's jobs while two earlier batches upload: all it holds fits
    in one heartbeat and one release (a cap of one pop refused it, and its leases ran out)."""
    held = 3 * MAX_JOBS
    accepted = env.http.post(
        "/api/v1/jobs/batch",
        json={"jobs": [env.image(prompt=f"p{n}") for n in range(MAX_JOBS)]},
        headers=env.auth,
    )
    assert accepted.status_code == 202, accepted.text
    ids = [str(a["id"]) for a in accepted.json()["jobs"]]
    worker = env.worker()
    worker.register("w", MODELS, 4096, MAX_JOBS)
    assert len(worker.pop(0)) == MAX_JOBS
    padding = [f"gone{n}" for n in range(held - MAX_JOBS)]  # ids no longer held count 0
    assert worker.heartbeat(ids + padding)["count"] == MAX_JOBS
    too_many = signed_post(
        env, worker.keys, "/api/v1/workers/heartbeat", {"job_ids": ["x"] * (MAX_HELD + 1)}
    )
    assert too_many.status_code == 422
    assert worker.release(ids + padding)["count"] == MAX_JOBS


def test_expired_lease_goes_back_to_the_queue_then_fails(env: Env) -> None:
    job = env.submit(env.image())
    first, second = env.worker(), env.worker()
    first.register("a", MODELS, 4096, 1)
    second.register("b", MODELS, 4096, 1)
    first.pop(0)
    env.clock.advance(8)
    requeued, failed = env.http.app.state.reaper.reap()
    assert (requeued, failed) == ([job["id"]], [])
    (again,) = second.pop(0)
    with pytest.raises(SwarmgenAPIError):
        first.submit([run_echo(first, again)])  # the first worker lost its lease
    env.clock.advance(8)
    assert env.http.app.state.reaper.reap() == ([], [job["id"]])  # max_attempts = 2
    view = env.http.get(f"/api/v1/jobs/{job['id']}", headers=env.auth).json()
    assert view["state"] == "failed"
    assert view["error"]


@pytest.mark.parametrize("settings_overrides", [{"queue_ttl_s": 10}])
def test_a_job_no_worker_takes_expires_refunded_in_full_and_a_leased_one_runs_on(
    env: Env,
) -> None:
    """A job queued past ``queue_ttl_s`` fails and its whole price goes back; one leased
    by then is left to its worker (heartbeats keep it); one whose lease lapsed after its
    TTL expires instead of going back to the queue."""

    def balance() -> int:
        return int(env.http.get("/api/v1/credits/balance", headers=env.auth).json()["balance"])

    before = balance()
    jobs = {str(job["id"]): job for job in (env.submit(env.image()) for _ in range(3))}
    holder, crasher = env.worker(), env.worker()
    holder.register("holder", MODELS, 4096, 1)
    crasher.register("crasher", MODELS, 4096, 1)
    ((held,), (dropped,)) = holder.pop(0), crasher.pop(0)
    kept, lapsed = jobs.pop(held["job_id"]), jobs.pop(dropped["job_id"])
    (untaken,) = jobs.values()
    for _ in range(2):
        env.clock.advance(4)
        assert holder.heartbeat([held["job_id"]])["count"] == 1
    env.clock.advance(3)  # 11 s: past the TTL of all three, and the crasher's lease
    requeued, failed = env.http.app.state.reaper.reap()
    assert requeued == []
    assert sorted(failed) == sorted([lapsed["id"], untaken["id"]])
    for job in (lapsed, untaken):
        view = env.http.get(f"/api/v1/jobs/{job['id']}", headers=env.auth).json()
        assert (view["state"], view["payment"]) == ("failed", "refunded")
        assert "expired" in view["error"]
    assert holder.submit([run_echo(holder, held)])["accepted"] == [kept["id"]]
    assert balance() == before - int(kept["price"])
    assert env.http.app.state.reaper.reap() == ([], [])


def test_release_with_an_error_fails_the_job_once_out_of_tries(env: Env) -> None:
    job = env.submit(env.image())
    worker = env.worker()
    worker.register("w", MODELS, 4096, 1)
    worker.pop(0)
    assert worker.release([job["id"]], error="backend: out of memory")["count"] == 1
    assert env.reads.jobs.get(job["id"]).state.value == "queued"  # first try: queued again
    worker.pop(0)
    worker.release([job["id"]], error="backend: out of memory")  # max_attempts = 2
    view = env.http.get(f"/api/v1/jobs/{job['id']}", headers=env.auth).json()
    assert (view["state"], view["payment"]) == ("failed", "refunded")
    assert view["error"] == "backend: out of memory"


def test_text_that_stops_early_without_an_end_token_is_refused(env: Env) -> None:
    env.submit(env.text(max_tokens=16))
    worker = env.worker()
    worker.register("w", MODELS, 4096, 1)
    (assignment,) = worker.pop(0)
    good = run_echo(worker, assignment)
    text = dict(good["text"])
    cut = {**text, "token_ids": text["token_ids"][:2], "top_logprobs": text["top_logprobs"][:2]}
    cut["finish_reason"] = "length"
    forged = resign(worker, assignment, cut)
    with pytest.raises(SwarmgenAPIError) as exc:
        worker.submit([forged])
    assert exc.value.details["fields"][0]["field"] == "results.text.token_ids"
    odd = resign(worker, assignment, {**text, "finish_reason": "tired"})
    with pytest.raises(SwarmgenAPIError) as exc:
        worker.submit([odd])
    assert exc.value.details["fields"][0]["field"] == "results.text.finish_reason"
    assert worker.submit([good])["accepted"] == [assignment["job_id"]]


@pytest.mark.parametrize(
    ("temperature", "margins", "reason"),
    [
        (0.8, None, "need one per token of a sampled job"),
        (0.0, 200_000, "must be empty for a greedy job"),
        (0.8, 700_000, "must lie in [0, 0.5]"),
    ],
)
def test_choice_margins_must_fit_the_job(
    env: Env, temperature: float, margins: int | None, reason: str
) -> None:
    env.submit(env.text(max_tokens=16, temperature=temperature))
    worker = env.worker()
    worker.register("w", MODELS, 4096, 1)
    (assignment,) = worker.pop(0)
    good = run_echo(worker, assignment)
    text = {k: v for k, v in good["text"].items() if k != "choice_margins"}
    if margins is not None:
        text["choice_margins"] = [margins] * len(text["token_ids"])
    with pytest.raises(SwarmgenAPIError) as exc:
        worker.submit([resign(worker, assignment, text)])
    (problem,) = exc.value.details["fields"]
    assert (problem["field"], problem["reason"]) == ("results.text.choice_margins", reason)
    assert worker.submit([good])["accepted"] == [assignment["job_id"]]


def resign(worker, assignment: dict, text: dict) -> dict:  # type: ignore[no-untyped-def]
    """A result carrying ``text`` with a receipt that signs exactly it."""
    from swarmgen.core.outputs import TextOutput
    from swarmgen.core.receipts import Receipt

    output = TextOutput.from_canonical(text)
    job_input = assignment["input_digest"]
    receipt = Receipt.signed(
        worker.keys,
        job_id=assignment["job_id"],
        input_digest=job_input,
        output_digest=output.digest(),
        artifact_digest=output.digest(),
        timings={"run_ms": 1},
    )
    return {
        "job_id": assignment["job_id"],
        "text": output.canonical(),
        "receipt": receipt.to_dict(),
    }
