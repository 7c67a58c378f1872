"""Requester endpoints: success and failure paths, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def complete_all(env: Env) -> None:
    worker = env.worker()
    worker.register("w1", MODELS, 1024 * 1024, 16)
    assignments = worker.pop(0, 16)
    worker.submit([run_echo(worker, a) for a in assignments])


def test_submit_returns_id_position_and_fixed_seed(env: Env) -> None:
    first = env.submit(env.image())
    env.clock.advance(0.001)
    second = env.submit(env.image(seed=42))
    assert first["state"] == "queued"
    assert (first["queue_position"], second["queue_position"]) == (0, 1)
    assert isinstance(first["seed"], int)
    assert second["seed"] == 42


def test_status_result_and_list(env: Env) -> None:
    image = env.submit(env.image(n=2))
    text = env.submit(env.text(max_tokens=8))
    queued = env.http.get(f"/api/v1/jobs/{image['id']}", headers=env.auth).json()
    assert queued["state"] == "queued"
    assert queued["queue_position"] == 0
    complete_all(env)
    view = env.http.get(f"/api/v1/jobs/{image['id']}", headers=env.auth).json()
    assert view["state"] == "completed"
    assert view["outputs"] == 2
    assert view["worker_id"]
    for index in (0, 1):
        result = env.http.get(f"{view['result_url']}?index={index}", headers=env.auth)
        assert result.headers["content-type"] == "image/png"
        assert result.content.startswith(PNG_MAGIC)
    missing = env.http.get(f"{view['result_url']}?index=2", headers=env.auth)
    assert missing.status_code == 422
    words = env.http.get(f"/api/v1/jobs/{text['id']}/result", headers=env.auth)
    assert words.headers["content-type"].startswith("text/plain")
    assert words.text
    detail = env.http.get(f"/api/v1/jobs/{text['id']}/result?format=json", headers=env.auth)
    assert len(detail.json()["token_ids"]) == len(detail.json()["top_logprobs"])
    listed = env.http.get("/api/v1/jobs", headers=env.auth).json()["jobs"]
    assert {j["id"] for j in listed} == {image["id"], text["id"]}
    done = env.http.get("/api/v1/jobs?state=completed&limit=1", headers=env.auth).json()["jobs"]
    assert len(done) == 1


def test_status_wait_returns_when_time_is_up(env: Env) -> None:
    job = env.submit(env.image())
    view = env.http.get(f"/api/v1/jobs/{job['id']}?wait=0.2", headers=env.auth).json()
    assert view["state"] == "queued"


def test_result_of_unfinished_job_is_a_conflict(env: Env) -> None:
    job = env.submit(env.image())
    response = env.http.get(f"/api/v1/jobs/{job['id']}/result", headers=env.auth)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_cancel(env: Env) -> None:
    job = env.submit(env.image())
    response = env.http.post(f"/api/v1/jobs/{job['id']}/cancel", headers=env.auth)
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    again = env.http.post(f"/api/v1/jobs/{job['id']}/cancel", headers=env.auth)
    assert again.status_code == 409
    worker = env.worker()
    worker.register("w1", MODELS, 1024 * 1024, 4)
    assert worker.pop(0) == []  # a cancelled job is never leased


def test_other_tenants_jobs_are_invisible(env: Env) -> None:
    job = env.submit(env.image())
    bob = {"Authorization": f"Bearer {env.new_key('bob')}"}
    for method, path in [
        ("GET", f"/api/v1/jobs/{job['id']}"),
        ("GET", f"/api/v1/jobs/{job['id']}/result"),
        ("POST", f"/api/v1/jobs/{job['id']}/cancel"),
    ]:
        response = env.http.request(method, path, headers=bob)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert env.http.get("/api/v1/jobs", headers=bob).json()["jobs"] == []


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer sg_nope"}, {"Authorization": "Basic x"}]
)
def test_requests_without_a_valid_key_are_refused(env: Env, headers: dict[str, str]) -> None:
    response = env.http.post("/api/v1/jobs", json=env.image(), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


BAD_IMAGES = [
    ({"steps": 51}, "steps", 50),
    ({"steps": 0}, "steps", 1),
    ({"width": 2048}, "width", 1024),
    ({"height": 32}, "height", 64),
    ({"width": 100}, "width", None),
    ({"n": 5}, "n", 4),
    ({"guidance": 21}, "guidance", 20.0),
    ({"prompt": "x" * 2001}, "prompt", 2000),
    ({"prompt": ""}, "prompt", 1),
    ({"seed": -1}, "seed", 0),
    ({"model": "no-such-model@fp32"}, "model", None),
    ({"model": "shapes"}, "model", None),
    ({"model": "echo-text@fp32"}, "kind", "text"),
    ({"width": 1024, "height": 1024, "model": "tiny-sd@fp32"}, "width", 262144),
    ({"colour": "red"}, "colour", None),
]


@pytest.mark.parametrize(("change", "field", "limit"), BAD_IMAGES)
def test_bad_image_jobs_name_field_reason_and_limit(
    env: Env, change: dict[str, object], field: str, limit: object
) -> None:
    response = env.http.post("/api/v1/jobs", json=env.image(**change), headers=env.auth)
    assert response.status_code == 422, response.text
    problems = response.json()["error"]["fields"]
    assert problems[0]["field"] == field
    assert problems[0]["reason"]
    if limit is not None:
        assert problems[0]["limit"] == limit
    assert env.http.get("/healthz").status_code == 200


BAD_TEXTS = [
    ({"max_tokens": 513}, "max_tokens", 512),
    ({"temperature": 2.5}, "temperature", 2.0),
    ({"top_p": 0}, "top_p", 0.0),
    ({"messages": [{"role": "user", "content": "hi"}]}, "body", None),
    ({"prompt": None, "messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role", None),
    ({"prompt": None, "messages": []}, "messages", 1),
]


@pytest.mark.parametrize(("change", "field", "limit"), BAD_TEXTS)
def test_bad_text_jobs_name_field_reason_and_limit(
    env: Env, change: dict[str, object], field: str, limit: object
) -> None:
    body = {k: v for k, v in env.text(**change).items() if v is not None}
    response = env.http.post("/api/v1/jobs", json=body, headers=env.auth)
    assert response.status_code == 422, response.text
    problem = response.json()["error"]["fields"][0]
    assert problem["field"] == field
    if limit is not None:
        assert problem["limit"] == limit


def test_malformed_json_and_oversized_bodies(env: Env) -> None:
    headers = {**env.auth, "Content-Type": "application/json"}
    broken = env.http.post("/api/v1/jobs", content=b'{"kind": "image",', headers=headers)
    assert broken.status_code == 422
    assert broken.json()["error"]["fields"][0] == {"field": "body", "reason": "malformed JSON"}
    huge = env.http.post("/api/v1/jobs", content=b"{" + b" " * 70_000 + b"}", headers=headers)
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "payload_too_large"

    def chunks():  # no Content-Length: the body arrives chunked
        for _ in range(100):
            yield b" " * 1024

    streamed = env.http.post("/api/v1/jobs", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    assert env.http.get("/healthz").json()["status"] == "ok"
    assert env.submit(env.image())["state"] == "queued"


def test_batch_submit_is_all_or_none(env: Env) -> None:
    body = {"jobs": [env.image(), env.text(), env.image(n=2)]}
    response = env.http.post("/api/v1/jobs/batch", json=body, headers=env.auth)
    assert response.status_code == 202, response.text
    accepted = response.json()["jobs"]
    # a place in its offering's queue, as the job's own view tells it
    assert [a["queue_position"] for a in accepted] == [0, 0, 1] or [
        a["queue_position"] for a in accepted
    ] == [1, 0, 0]
    for job in accepted:
        view = env.http.get(f"/api/v1/jobs/{job['id']}", headers=env.auth).json()
        assert view["queue_position"] == job["queue_position"]
    assert len({a["id"] for a in accepted}) == 3
    bad = {"jobs": [env.image(), env.image(steps=99)]}
    refused = env.http.post("/api/v1/jobs/batch", json=bad, headers=env.auth)
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["field"] == "jobs[1].steps"
    unknown = {"jobs": [env.image(), env.image(model="nope@fp32")]}
    refused = env.http.post("/api/v1/jobs/batch", json=unknown, headers=env.auth)
    assert refused.json()["error"]["fields"][0]["field"] == "jobs[1].model"
    listed = env.http.get("/api/v1/jobs", headers=env.auth).json()["jobs"]
    assert len(listed) == 3  # nothing of the refused batches was queued
    too_many = {"jobs": [env.image()] * 65}
    assert env.http.post("/api/v1/jobs/batch", json=too_many, headers=env.auth).status_code == 422


def test_feed_of_changes(env: Env) -> None:
    first = env.submit(env.image())
    env.clock.advance(1)
    since = env.clock.now_ms()
    second = env.submit(env.text())
    feed = env.http.get(f"/api/v1/jobs?updated_since={since}", headers=env.auth).json()["jobs"]
    assert [j["id"] for j in feed] == [second["id"]]
    env.clock.advance(1)
    since = env.clock.now_ms()
    complete_all(env)
    feed = env.http.get(f"/api/v1/jobs?updated_since={since}", headers=env.auth).json()["jobs"]
    assert {j["id"] for j in feed} == {first["id"], second["id"]}
    assert {j["state"] for j in feed} == {"completed"}


def test_feed_in_commit_order(env: Env) -> None:
    def changes(after: int, state: str = "") -> list[dict[str, object]]:
        query = f"/api/v1/jobs?changed_after={after}" + (f"&state={state}" if state else "")
        jobs: list[dict[str, object]] = env.http.get(query, headers=env.auth).json()["jobs"]
        return jobs

    first = env.submit(env.image())
    second = env.submit(env.text())
    queued = changes(0)
    assert [j["id"] for j in queued] == [first["id"], second["id"]]
    cursor = int(queued[-1]["change_seq"])  # type: ignore[call-overload]
    assert changes(cursor) == []
    complete_all(env)
    done = changes(cursor, "completed")
    assert {j["id"] for j in done} == {first["id"], second["id"]}
    assert all(int(j["change_seq"]) > cursor for j in done)  # type: ignore[call-overload]
    assert changes(cursor, "queued") == []
