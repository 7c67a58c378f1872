"""The AI Horde-compatible face on echo models: round trips, cancel and refund, and every
error path in Horde's ``{"message", "rc"}`` shape.

A worker thread serves jobs through the same in-process app, so each answer is a real
job that was queued, leased, run, signed and completed.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo

from swarmgen.core import accounts

IMAGE = "echo-image@fp32"
TEXT = "echo-text@fp32"
ANON = {"apikey": "0000000000"}


@pytest.fixture
def serving(env: Env) -> Iterator[Env]:
    """``env`` with an echo worker named ``echo`` serving in a thread until the test ends."""
    worker = env.worker()
    worker.register("echo", MODELS, 1 << 20, 4)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            for assignment in worker.pop(0.2):
                worker.submit([run_echo(worker, assignment)])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield env
    stop.set()
    thread.join(10)


def key(env: Env) -> dict[str, str]:
    return {"apikey": env.key}


def error_of(response: httpx.Response, status: int, rc: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert {"message", "rc"} <= set(body) <= {"message", "rc", "errors"}, body
    assert body["rc"] == rc and body["message"], body
    return body


def submit(env: Env, path: str, body: dict[str, Any], headers: dict[str, str]) -> str:
    response = env.http.post(path, json=body, headers=headers)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert set(answer) == {"id", "kudos", "message"} and answer["kudos"] > 0
    return str(answer["id"])


def until_done(env: Env, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer: dict[str, Any] = env.http.get(path).json()
        if answer["done"]:
            return answer
        time.sleep(0.05)
    raise TimeoutError(path)


def job_of(env: Env, horde_id: str) -> Any:
    """The one job of the user whose Horde request ``horde_id`` is (by the user's jobs)."""
    jobs = env.http.get("/api/v1/jobs", headers=env.auth).json()["jobs"]
    assert len(jobs) == 1
    return env.reads.jobs.get(jobs[0]["id"])


def test_image_round_trip_as_links_and_as_base64(serving: Env) -> None:
    env = serving
    body = {"prompt": "a red circle ### blurry", "models": ["nope", IMAGE],
            "params": {"width": 64, "height": 96, "steps": 4, "cfg_scale": 5.5, "seed": "11",
                       "n": 2, "sampler_name": "k_euler_a", "karras": False}}  # fmt: skip
    horde_id = submit(env, "/api/v2/generate/async", body, key(env))
    assert uuid.UUID(horde_id).version == 4
    checked = until_done(env, f"/api/v2/generate/check/{horde_id}")
    job = job_of(env, horde_id)
    assert job.id != uuid.UUID(horde_id).hex  # the Horde id is not the public job id
    assert job.spec["negative_prompt"] == "blurry" and job.spec["prompt"] == "a red circle"
    assert (job.spec["width"], job.spec["height"], job.spec["n"]) == (64, 96, 2)
    assert (checked["finished"], checked["waiting"], checked["faulted"]) == (2, 0, False)
    assert "generations" not in checked
    status = env.http.get(f"/api/v2/generate/status/{horde_id}").json()
    generations = status["generations"]
    assert [g["seed"] for g in generations] == ["11", "12"]
    assert {(g["model"], g["state"], g["worker_name"]) for g in generations} == {
        (IMAGE, "ok", "echo")
    }
    assert generations[0]["worker_id"] == job.worker_id
    assert len({g["id"] for g in generations}) == 2
    inline = env.http.get(f"/api/v2/generate/status/{horde_id}?r2=false").json()
    for linked, b64 in zip(generations, inline["generations"], strict=True):
        fetched = env.http.get(linked["img"].removeprefix("http://testserver"))
        assert fetched.status_code == 200
        assert fetched.content == base64.b64decode(b64["img"])
        assert fetched.content.startswith(b"\x89PNG")


def test_text_round_trip_anonymous(serving: Env) -> None:
    env = serving
    credits = env.http.app.state.credits  # type: ignore[attr-defined]
    credits.anonymous()
    credits.grant("anonymous", 10**9)
    body = {"prompt": "Once upon a time", "models": ["echo-text"],
            "params": {"max_length": 8, "temperature": 0.5, "top_p": 0.9, "rep_pen": 1.1,
                   "top_k": 40, "stop_sequence": ["\n"], "max_context_length": 2048}}  # fmt: skip
    horde_id = submit(env, "/api/v2/generate/text/async", body, ANON)
    answer = until_done(env, f"/api/v2/generate/text/status/{horde_id}")
    (generation,) = answer["generations"]
    assert generation["text"] and generation["model"] == TEXT
    assert generation["worker_name"] == "echo" and isinstance(generation["seed"], int)
    assert answer["finished"] == 1 and not answer["faulted"]
    # anyone holding the id may read it; nobody may cancel an anonymous request
    refused = env.http.delete(f"/api/v2/generate/text/status/{horde_id}")
    assert refused.status_code == 200  # it ended: answered as it stands
    second = submit(env, "/api/v2/generate/text/async", {"prompt": "x"}, ANON)
    deadline = time.monotonic() + 5
    while (live := env.http.delete(f"/api/v2/generate/text/status/{second}")).status_code == 200:
        assert time.monotonic() < deadline  # the worker finished it first: try again
        second = submit(env, "/api/v2/generate/text/async", {"prompt": "x"}, ANON)
    error_of(live, 403, "AnonForbidden")


def test_delete_cancels_a_queued_request_and_refunds_it(env: Env) -> None:
    account = accounts.user(env.reads.users.by_name("alice").id)
    before = env.reads.ledger.balance(account)
    horde_id = submit(env, "/api/v2/generate/async", {"prompt": "x", "models": [IMAGE]}, key(env))
    assert env.reads.ledger.balance(account) < before
    waiting = env.http.get(f"/api/v2/generate/check/{horde_id}").json()
    assert (waiting["waiting"], waiting["done"], waiting["is_possible"]) == (1, False, False)
    cancelled = env.http.delete(f"/api/v2/generate/status/{horde_id}")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["done"] and cancelled.json()["generations"] == []
    assert env.reads.ledger.balance(account) == before
    again = env.http.delete(f"/api/v2/generate/status/{horde_id}")
    assert again.status_code == 200 and env.reads.ledger.balance(account) == before
    # the text routes do not follow an image request, nor the reverse
    error_of(env.http.get(f"/api/v2/generate/text/status/{horde_id}"), 404, "RequestNotFound")


def test_a_dry_run_prices_without_queueing(env: Env) -> None:
    body = {"prompt": "x", "models": [IMAGE], "dry_run": True, "params": {"n": 3}}
    priced = env.http.post("/api/v2/generate/async", json=body, headers=key(env))
    assert priced.status_code == 200 and priced.json()["kudos"] > 0
    text = {"prompt": "x", "models": [TEXT], "dry_run": True}
    assert env.http.post("/api/v2/generate/text/async", json=text, headers=ANON).status_code == 200
    assert env.http.get("/api/v1/jobs", headers=env.auth).json()["jobs"] == []


def test_ids_the_face_never_gave_out_are_404(env: Env) -> None:
    accepted = env.submit(env.image())  # a native job: its id is public, not a Horde id
    native = str(uuid.UUID(str(accepted["id"])))
    for horde_id in (native, str(uuid.uuid4()), uuid.uuid4().hex, str(uuid.uuid1()), "abc"):
        for path in ("/api/v2/generate/check/", "/api/v2/generate/status/",
                     "/api/v2/generate/text/status/"):  # fmt: skip
            error_of(env.http.get(path + horde_id), 404, "RequestNotFound")
        error_of(env.http.delete(f"/api/v2/generate/status/{horde_id}"), 404, "RequestNotFound")
    error_of(env.http.get("/api/v2/generate/check/not%20an%20id"), 400, "BadRequest")
    error_of(env.http.get(f"/api/v2/generate/check/{'a' * 37}"), 400, "BadRequest")


IMG, TXT = "/api/v2/generate/async", "/api/v2/generate/text/async"


def params(**fields: object) -> dict[str, object]:
    return {"prompt": "x", "params": fields}


BAD = [
    (IMG, {}, "prompt"),
    (IMG, {"prompt": ""}, "prompt"),
    (IMG, {"prompt": "x\u0000"}, "prompt"),
    (IMG, params(width=63), "params.width"),
    (IMG, params(width=68), "params.width"),
    (IMG, params(height=2048), "params.height"),
    (IMG, params(steps=0), "params.steps"),
    (IMG, params(steps=51), "params.steps"),
    (IMG, params(n=5), "params.n"),
    (IMG, params(cfg_scale=30), "params.cfg_scale"),
    (IMG, params(cfg_scale="NaN"), "params.cfg_scale"),
    (IMG, params(seed="abc"), "params.seed"),
    (IMG, params(seed="4294967296"), "params.seed"),
    (IMG, params(hires_fix=True), "params.hires_fix"),
    (IMG, params(tiling=True), "params.tiling"),
    (IMG, params(loras=[{"name": "a"}]), "params.loras"),
    (IMG, params(post_processing=["GFPGAN"]), "params.post_processing"),
    (IMG, params(control_type="canny"), "params.control_type"),
    (IMG, params(bogus=1), "params.bogus"),
    (IMG, {"prompt": "x", "params": []}, "params"),
    (IMG, {"prompt": "x", "source_image": "aGk="}, "source_image"),
    (IMG, {"prompt": "x", "source_processing": "img2img"}, "source_processing"),
    (IMG, {"prompt": "x", "workers": ["w1"]}, "workers"),
    (IMG, {"prompt": "x", "webhook": "http://x"}, "webhook"),
    (IMG, {"prompt": "x", "models": ["a"] * 33}, "models"),
    (IMG, {"prompt": "x", "models": "shapes"}, "models"),
    (IMG, {"prompt": "x", "bogus": True}, "bogus"),
    (TXT, params(n=2), "params.n"),
    (TXT, params(max_length=0), "params.max_length"),
    (TXT, params(max_length=10**30), "params.max_length"),
    (TXT, params(temperature=3), "params.temperature"),
    (TXT, params(top_p=0), "params.top_p"),
    (TXT, params(stop_sequence=["a"] * 9), "params.stop_sequence"),
    (TXT, {"prompt": "x", "softprompt": "a"}, "softprompt"),
]
"""``(path, body, the field named)``: one app serves them all (each case alone is slow)."""


def test_bad_requests_are_400_naming_the_field(env: Env) -> None:
    for path, body, field in BAD:
        response = env.http.post(path, json=body, headers=key(env))
        assert field in error_of(response, 400, "BadRequest")["errors"], (path, body)


def test_service_refusals_in_horde_shape(env: Env) -> None:
    image = "/api/v2/generate/async"
    error_of(env.http.post(image, json={"prompt": "x"}), 401, "InvalidAPIKey")
    error_of(env.http.post(image, json={"prompt": "x"}, headers={"apikey": "x" * 22}), 401,
             "InvalidAPIKey")  # fmt: skip
    unknown = error_of(
        env.http.post(image, json={"prompt": "x", "models": ["nope@fp32"]}, headers=key(env)),
        400, "UnsupportedModel",
    )  # fmt: skip
    assert "models" in unknown["errors"]
    error_of(env.http.post(image, json={"prompt": "x", "models": [TEXT]}, headers=key(env)),
             400, "UnsupportedModel")  # fmt: skip
    too_big = {"prompt": "x", "models": ["shapes-64@fp32"], "params": {"width": 128}}
    error_of(env.http.post(image, json=too_big, headers=key(env)), 400, "BadRequest")
    poor = {"apikey": env.new_key("poor")}
    dear = {"prompt": "x", "models": [IMAGE],
            "params": {"width": 1024, "height": 1024, "steps": 50, "n": 4}}  # fmt: skip
    error_of(env.http.post(image, json=dear, headers=poor), 402, "KudosUpfront")
    error_of(env.http.post(image, content=b"{", headers=key(env)), 400, "BadRequest")
    error_of(env.http.post(image, content=b"\xff\xfe", headers=key(env)), 400, "BadRequest")
    huge = env.http.post(image, content=b"x" * (70 * 1024), headers=key(env))
    error_of(huge, 413, "PayloadTooLarge")


@pytest.mark.parametrize("settings_overrides", [{"max_active_jobs": 1}])
def test_too_many_active_requests_is_429_with_retry_after(env: Env) -> None:
    submit(env, "/api/v2/generate/async", {"prompt": "x", "models": [IMAGE]}, key(env))
    busy = env.http.post("/api/v2/generate/async", json={"prompt": "x"}, headers=key(env))
    error_of(busy, 429, "TooManyPrompts")
    assert int(busy.headers["Retry-After"]) > 0


def test_unknown_routes_and_methods_answer_in_horde_shape(env: Env) -> None:
    error_of(env.http.get("/api/v2/nothing/here"), 404, "NotFound")
    error_of(env.http.get("/api/v2/generate/async"), 405, "MethodNotAllowed")
    error_of(env.http.put("/api/v2/status/heartbeat"), 405, "MethodNotAllowed")
    native = env.http.get("/api/v1/nothing")
    assert native.status_code == 404 and native.json()["error"]["code"] == "not_found"


def test_status_routes(serving: Env) -> None:
    env = serving
    beat = env.http.get("/api/v2/status/heartbeat").json()
    assert beat["message"] == "OK" and beat["version"]
    images = env.http.get("/api/v2/status/models").json()
    assert IMAGE in {m["name"] for m in images} and {m["type"] for m in images} == {"image"}
    texts = env.http.get("/api/v2/status/models?type=text&min_count=1").json()
    echo = next(m for m in texts if m["name"] == TEXT)
    assert echo["count"] == 1 and set(echo) == {
        "name", "count", "performance", "queued", "jobs", "eta", "type"
    }  # fmt: skip
    assert all(m["count"] >= 1 for m in texts)
    assert env.http.get("/api/v2/status/models?type=text&max_count=0").json() == [
        m for m in env.http.get("/api/v2/status/models?type=text").json() if m["count"] == 0
    ]
    error_of(env.http.get("/api/v2/status/models?type=video"), 400, "BadRequest")
    error_of(env.http.get("/api/v2/status/models?min_count=-1"), 400, "BadRequest")
    me = env.http.get("/api/v2/find_user", headers=key(env)).json()
    assert me["username"].startswith("alice#") and me["kudos"] > 0 and me["concurrency"] > 0
    anonymous = env.http.get("/api/v2/find_user", headers=ANON).json()
    assert anonymous["username"].startswith("anonymous#")
    error_of(env.http.get("/api/v2/find_user"), 401, "InvalidAPIKey")
    error_of(env.http.get("/api/v2/find_user", headers={"apikey": "nope"}), 401, "InvalidAPIKey")


ODD = [[], "x", 7, None, {"prompt": None}, {"prompt": ["x"]}, {"prompt": "x", "params": None},
       params(seed=10**40), params(width=1e308), {"prompt": "x", "models": [None]},
       {"prompt": "x" * 5000}]  # fmt: skip


def test_odd_bodies_are_4xx_never_5xx(env: Env) -> None:
    for body in ODD:
        for path in ("/api/v2/generate/async", "/api/v2/generate/text/async"):
            response = env.http.post(path, json=body, headers=key(env))
            assert 400 <= response.status_code < 500, response.text
            assert set(response.json()) >= {"message", "rc"}


def test_openapi_documents_every_horde_error_in_horde_shape(env: Env) -> None:
    paths = env.http.get("/openapi.json").json()["paths"]
    horde = {p: ops for p, ops in paths.items() if p.startswith("/api/v2")}
    assert len(horde) == 8
    for path, operations in horde.items():
        for method, operation in operations.items():
            codes = operation["responses"]
            assert "400" in codes, (method, path)
            for status, answer in codes.items():
                if status.startswith(("4", "5")):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/HordeErrorOut"}, (path, status)
    submit = paths["/api/v2/generate/async"]["post"]["responses"]
    assert {"200", "202", "401", "402", "413", "429"} <= set(submit)
    assert "403" in paths["/api/v2/generate/status/{id}"]["delete"]["responses"]
