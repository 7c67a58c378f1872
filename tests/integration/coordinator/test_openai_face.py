"""The OpenAI-compatible face on echo models: shapes, streams, links and every error path.

A worker thread serves jobs through the same in-process app while a request waits, so
each answer is a real job that was queued, leased, run, signed and completed.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo

IMAGE = "echo-image@fp32"
TEXT = "echo-text@fp32"
ERROR_KEYS = {"message", "type", "param", "code"}


@pytest.fixture
def served(env: Env) -> Iterator[Env]:
    """``env`` with an echo worker serving in a thread until the test ends."""
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


def post(env: Env, path: str, body: object, status: int = 200, **headers: str) -> Any:
    response = env.http.post(path, json=body, headers={**env.auth, **headers})
    assert response.status_code == status, response.text
    return response.json()


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body["error"]) == ERROR_KEYS, body
    assert "detail" not in body
    return dict(body["error"])


def events(env: Env, path: str, body: dict[str, Any]) -> list[Any]:
    with env.http.stream("POST", path, json=body, headers=env.auth) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]


def test_models_list_every_offering(env: Env) -> None:
    listed = env.http.get("/v1/models", headers=env.auth).json()
    assert listed["object"] == "list"
    ids = {m["id"] for m in listed["data"]}
    assert {IMAGE, TEXT, "tiny-sd@fp32", "smollm2-135m@fp32"} <= ids
    one = env.http.get(f"/v1/models/{TEXT}", headers=env.auth).json()
    assert (one["id"], one["object"], one["swarmgen"]["kind"]) == (TEXT, "model", "text")
    missing = env.http.get("/v1/models/nope@fp32", headers=env.auth)
    assert missing.status_code == 404 and error_of(missing)["code"] == "model_not_found"
    int8 = env.http.get("/v1/models/smollm2-135m@int8", headers=env.auth).json()["swarmgen"]
    assert int8["precision"] == "int8" and int8["typical_price"] > 0
    assert int8["tier"].startswith("torchao>=0.18,<0.19 int8-weight-only")
    assert set(int8) >= {"footprint", "quality", "typical_job"}


def test_chat_with_logprobs_usage_and_the_swarmgen_object(served: Env) -> None:
    body = {
        "model": TEXT,
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": [{"type": "text", "text": "Say hi"}]}],
        "max_completion_tokens": 8,
        "temperature": 0,
        "logprobs": True,
        "top_logprobs": 5,
        "seed": 7,
    }  # fmt: skip
    answer = post(served, "/v1/chat/completions", body)
    assert answer["object"] == "chat.completion"
    (choice,) = answer["choices"]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    content = choice["logprobs"]["content"]
    assert content and all(len(c["top_logprobs"]) == 5 for c in content)
    assert all(c["logprob"] <= 0 for c in content)
    usage = answer["usage"]
    assert usage["completion_tokens"] >= len(content)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    extension = answer["swarmgen"]
    assert extension["job_id"] and len(extension["receipt_digest"]) == 64
    assert extension["worker"] and extension["verification"] == "optimistic"
    assert extension["seed"] == 7
    job = served.http.get(f"/api/v1/jobs/{extension['job_id']}", headers=served.auth).json()
    assert job["state"] == "completed" and job["worker_id"] == extension["worker"]


def test_same_seed_same_answer_and_stop_sequences_cut_it(served: Env) -> None:
    body = {"model": TEXT, "messages": [{"role": "user", "content": "abc def"}], "seed": 3,
            "max_tokens": 12}  # fmt: skip
    first = post(served, "/v1/chat/completions", body)["choices"][0]
    again = post(served, "/v1/chat/completions", body)["choices"][0]
    assert first["message"]["content"] == again["message"]["content"]
    text = first["message"]["content"]
    stop = text[len(text) // 2 :][:2]
    cut = post(served, "/v1/chat/completions", {**body, "stop": [stop]})["choices"][0]
    assert cut["message"]["content"] == text[: text.find(stop)]
    assert cut["finish_reason"] == "stop"


def test_chat_stream_ends_in_done_with_usage(served: Env) -> None:
    body = {"model": TEXT, "messages": [{"role": "user", "content": "one two three"}],
            "max_tokens": 10, "seed": 1, "stream": True,
            "stream_options": {"include_usage": True}, "logprobs": True,
            "top_logprobs": 2}  # fmt: skip
    chunks = events(served, "/v1/chat/completions", body)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    whole = post(served, "/v1/chat/completions", {**body, "stream": False})
    assert text == whole["choices"][0]["message"]["content"]
    last = chunks[-2]["choices"][0]
    assert last["finish_reason"] in ("stop", "length")
    assert all(len(c["top_logprobs"]) == 2 for c in last["logprobs"]["content"])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole["usage"]
    assert chunks[-1]["swarmgen"]["job_id"]


def test_completions_legacy_logprobs_and_stream(served: Env) -> None:
    body = {"model": TEXT, "prompt": "Once upon", "max_tokens": 6, "logprobs": 3, "seed": 2}
    answer = post(served, "/v1/completions", body)
    assert answer["object"] == "text_completion"
    (choice,) = answer["choices"]
    logprobs = choice["logprobs"]
    assert len(logprobs["tokens"]) == len(logprobs["token_logprobs"])
    assert all(len(top) <= 3 for top in logprobs["top_logprobs"])
    chunks = events(served, "/v1/completions", {**body, "stream": True, "logprobs": None})
    assert "".join(c["choices"][0]["text"] for c in chunks) == choice["text"]
    assert chunks[-1]["choices"][0]["finish_reason"] == choice["finish_reason"]


def test_images_as_base64_and_as_signed_links(served: Env) -> None:
    body = {"prompt": "a red circle", "model": IMAGE, "n": 2, "size": "64x128", "seed": 5,
            "steps": 3}  # fmt: skip
    answer = post(served, "/v1/images/generations", body)
    assert len(answer["data"]) == 2
    png = base64.b64decode(answer["data"][0]["b64_json"])
    assert png.startswith(b"\x89PNG")
    assert answer["swarmgen"]["seed"] == 5
    linked = post(served, "/v1/images/generations", {**body, "response_format": "url"})
    url = linked["data"][0]["url"]
    fetched = served.http.get(url)  # no API key: the link is the credential
    assert fetched.status_code == 200 and fetched.content == png  # same seed, same image
    assert fetched.headers["content-type"] == "image/png"
    forged = served.http.get(url.replace("/0?", "/1?"))
    assert forged.status_code == 403 and error_of(forged)["type"] == "permission_error"
    tampered = served.http.get(url.replace("expires=", "expires=9"))
    assert tampered.status_code == 403
    served.clock.advance(3601)
    expired = served.http.get(url)
    assert (expired.status_code, error_of(expired)["code"]) == (403, "link_expired")
    bad = served.http.get(url.split("?")[0] + "?u=x&expires=1&sig=zz")
    assert bad.status_code == 400 and error_of(bad)["param"] == "sig"


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", {"model": TEXT, "messages": []}, "messages"),
        ("/v1/chat/completions", {"model": TEXT, "messages": [{"role": "tool", "content": "x"}]},
         "messages[0].role"),
        ("/v1/chat/completions", {"model": TEXT, "messages": [{"role": "user", "content": "x"}],
                                  "n": 2}, "n"),
        ("/v1/chat/completions", {"model": TEXT, "messages": [{"role": "user", "content": "x"}],
                                  "top_logprobs": 6, "logprobs": True}, "top_logprobs"),
        ("/v1/chat/completions", {"model": TEXT, "messages": [{"role": "user", "content": "x"}],
                                  "top_logprobs": 2}, "body"),
        ("/v1/chat/completions", {"model": TEXT, "messages": [{"role": "user", "content": "x"}],
                                  "max_tokens": 513}, "max_tokens"),
        ("/v1/chat/completions", {"model": TEXT, "messages": [{"role": "user", "content": "x"}],
                                  "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ("/v1/chat/completions", {"model": TEXT, "messages": [{"role": "user", "content": "x"}],
                                  "temperature": 3}, "temperature"),
        ("/v1/chat/completions", {"model": TEXT, "messages": [{"role": "user", "content": "x"}],
                                  "frobnicate": 1}, "frobnicate"),
        ("/v1/completions", {"model": TEXT, "prompt": "x", "echo": True}, "echo"),
        ("/v1/completions", {"model": TEXT, "prompt": ""}, "prompt"),
        ("/v1/images/generations", {"prompt": "x", "size": "big"}, "size"),
        ("/v1/images/generations", {"prompt": "x", "size": "65x64"}, "size"),
        ("/v1/images/generations", {"prompt": "x", "size": "4096x64"}, "size"),
        ("/v1/images/generations", {"prompt": "x", "n": 5}, "n"),
        ("/v1/images/generations", {"prompt": "x", "response_format": "png"}, "response_format"),
        ("/v1/images/generations", {"prompt": "x\u0000"}, "prompt"),
    ],
)  # fmt: skip
def test_bad_requests_are_400_naming_the_param(
    env: Env, path: str, body: dict[str, Any], param: str
) -> None:
    response = env.http.post(path, json=body, headers=env.auth)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


def test_malformed_json_and_oversized_bodies(env: Env) -> None:
    broken = env.http.post("/v1/chat/completions", content=b"{", headers=env.auth)
    assert broken.status_code == 400 and error_of(broken)["param"] == "body"
    binary = env.http.post("/v1/completions", content=b"\xff\xfe", headers=env.auth)
    assert binary.status_code == 400 and error_of(binary)
    huge = env.http.post("/v1/completions", content=b"x" * (70 * 1024), headers=env.auth)
    assert huge.status_code == 413 and error_of(huge)["code"] == "payload_too_large"


def test_service_refusals_in_openai_shape(env: Env) -> None:
    chat = {"model": TEXT, "messages": [{"role": "user", "content": "x"}]}
    unknown = env.http.post("/v1/chat/completions", json={**chat, "model": "nope@fp32"},
                            headers=env.auth)  # fmt: skip
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "model_not_found"
    wrong_kind = env.http.post("/v1/chat/completions", json={**chat, "model": IMAGE},
                               headers=env.auth)  # fmt: skip
    assert wrong_kind.status_code == 422 and error_of(wrong_kind)["param"] == "kind"
    too_big = env.http.post("/v1/images/generations",
                            json={"prompt": "x", "model": "shapes-64@fp32", "size": "128x128"},
                            headers=env.auth)  # fmt: skip
    assert too_big.status_code == 422
    no_key = env.http.post("/v1/chat/completions", json=chat)
    assert no_key.status_code == 401 and error_of(no_key)["type"] == "authentication_error"
    bad_key = env.http.get("/v1/models", headers={"Authorization": "Bearer nope"})
    assert bad_key.status_code == 401
    poor = env.new_key("poor")
    with env.store.transaction() as tx:
        assert tx.users.by_name("poor") is not None
    broke = env.http.post(
        "/v1/images/generations",
        json={"prompt": "x", "model": IMAGE, "size": "1024x1024", "steps": 50, "n": 4},
        headers={"Authorization": f"Bearer {poor}"},
    )
    assert broke.status_code == 402 and error_of(broke)["type"] == "insufficient_quota"


@pytest.mark.parametrize("settings_overrides", [{"max_active_jobs": 1}])
def test_too_many_active_jobs_is_429_with_retry_after(env: Env) -> None:
    env.submit(env.image())  # nobody serves it: it stays active
    busy = env.http.post("/v1/images/generations", json={"prompt": "x", "model": IMAGE},
                         headers=env.auth)  # fmt: skip
    assert busy.status_code == 429 and int(busy.headers["Retry-After"]) > 0
    assert error_of(busy)["type"] == "rate_limit_error"


def test_unknown_v1_routes_and_methods_answer_in_openai_shape(env: Env) -> None:
    missing = env.http.get("/v1/nothing/here")
    assert missing.status_code == 404 and error_of(missing)["code"] == "unknown_url"
    wrong = env.http.get("/v1/chat/completions")
    assert wrong.status_code == 405 and error_of(wrong)["type"] == "invalid_request_error"
    native = env.http.get("/api/v1/nothing")
    assert native.status_code == 404 and native.json()["error"]["code"] == "not_found"
    assert "type" not in native.json()["error"]


def test_a_job_that_fails_is_a_422_with_its_id_never_a_5xx(env: Env) -> None:
    worker = env.worker()
    worker.register("quitter", MODELS, 1 << 20, 1)
    done = threading.Event()

    def hand_back() -> None:
        while not done.is_set():
            for assignment in worker.pop(0.2):
                worker.release([assignment["job_id"]], error="backend crashed")

    thread = threading.Thread(target=hand_back, daemon=True)
    thread.start()
    try:
        body = {"model": TEXT, "messages": [{"role": "user", "content": "x"}]}
        failed = env.http.post("/v1/chat/completions", json=body, headers=env.auth)
        streamed = events(env, "/v1/chat/completions", {**body, "stream": True})
    finally:
        done.set()
        thread.join(10)
    assert failed.status_code == 422, failed.text
    assert error_of(failed)["code"] == "job_unfinished"
    assert failed.json()["swarmgen"]["job_id"]
    assert streamed[0]["error"]["code"] == "job_unfinished"
