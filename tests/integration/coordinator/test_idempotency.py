"""Idempotent submits: a retried submit is queued and charged once, on SQLite and PostgreSQL.

The retry that matters is the one after a lost answer: the job was committed, the
client never heard, and sends again. It is driven here through the SDK over real HTTP on
loopback, with a transport that drops the first answer after the server has sent it.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from tests.integration.coordinator.conftest import Env

from swarmgen.sdk.client import AsyncClient, Client

KEY = {"Idempotency-Key": "order-17"}


def balance(env: Env, key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key or env.key}"}
    answer = env.http.get("/api/v1/credits/balance", headers=headers)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["balance"])


def post(env: Env, path: str, body: object, headers: dict[str, str], key: str | None = None):
    auth = {"Authorization": f"Bearer {key or env.key}"}
    return env.http.post(f"/api/v1/jobs{path}", json=body, headers={**auth, **headers})


def listed(env: Env) -> list[str]:
    return [j["id"] for j in env.http.get("/api/v1/jobs", headers=env.auth).json()["jobs"]]


def test_a_repeated_key_answers_the_first_job_and_charges_once(env: Env) -> None:
    before = balance(env)
    first = post(env, "", env.image(), KEY)
    assert first.status_code == 202, first.text
    again = post(env, "", env.image(), KEY)
    assert again.status_code == 202, again.text
    assert again.json() == first.json()  # same id, price, seed and position
    assert balance(env) == before - first.json()["price"]
    assert listed(env) == [first.json()["id"]]


def test_a_key_reused_with_another_body_is_refused_and_charges_nothing(env: Env) -> None:
    first = post(env, "", env.image(), KEY).json()
    after_first = balance(env)
    other = post(env, "", env.image(prompt="a blue square"), KEY)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    batch = post(env, "/batch", {"jobs": [env.image()]}, KEY)  # same job, other route
    assert batch.status_code == 409
    assert balance(env) == after_first
    assert listed(env) == [first["id"]]


def test_keys_are_per_user(env: Env) -> None:
    bob = env.new_key("bob")
    env.http.app.state.credits.grant("bob", 1_000_000_000)  # type: ignore[attr-defined]
    mine = post(env, "", env.image(), KEY).json()
    theirs = post(env, "", env.image(prompt="other"), KEY, key=bob)
    assert theirs.status_code == 202, theirs.text
    assert theirs.json()["id"] != mine["id"]
    assert post(env, "", env.image(), KEY).json()["id"] == mine["id"]


def test_a_batch_is_answered_whole_again(env: Env) -> None:
    before = balance(env)
    body = {"jobs": [env.image(), env.text(max_tokens=4)]}
    first = post(env, "/batch", body, KEY)
    assert first.status_code == 202, first.text
    again = post(env, "/batch", body, KEY)
    assert again.json() == first.json()
    assert balance(env) == before - sum(j["price"] for j in first.json()["jobs"])
    single = post(env, "", env.image(), KEY)
    assert single.status_code == 409


def test_a_retry_after_the_job_left_the_queue_shows_it_as_it_stands(env: Env) -> None:
    first = post(env, "", env.image(), KEY).json()
    worker = env.worker()
    worker.register("w1", ["echo-image@fp32"], 1024 * 1024, 4)
    assert [a["job_id"] for a in worker.pop(0, 4)] == [first["id"]]
    again = post(env, "", env.image(), KEY).json()
    assert (again["id"], again["state"], again["queue_position"]) == (first["id"], "leased", None)
    assert again["price"] == first["price"]


@pytest.mark.parametrize("settings_overrides", [{"idempotency_window_s": 10}])
def test_a_key_past_its_window_queues_anew_and_is_pruned(env: Env) -> None:
    first = post(env, "", env.image(), KEY).json()
    env.clock.advance(11)
    later = post(env, "", env.image(prompt="another"), KEY)  # the old request is forgotten
    assert later.status_code == 202, later.text
    assert later.json()["id"] != first["id"]
    env.clock.advance(11)
    jobs = env.http.app.state.jobs  # type: ignore[attr-defined]
    assert jobs.prune_idempotency_keys() == 1
    assert jobs.prune_idempotency_keys() == 0


@pytest.mark.parametrize(
    "value", ["", "x" * 256, "has space", "tab\there"], ids=["empty", "long", "space", "tab"]
)
def test_the_header_is_checked_at_the_edge(env: Env, value: str) -> None:
    before = balance(env)
    answer = post(env, "", env.image(), {"Idempotency-Key": value})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"
    assert balance(env) == before


def test_concurrent_retries_queue_and_charge_once(env: Env) -> None:
    before = balance(env)
    barrier = threading.Barrier(8)

    def send(_: int) -> dict[str, Any]:
        barrier.wait()
        answer = post(env, "", env.image(), KEY)
        assert answer.status_code == 202, answer.text
        result: dict[str, Any] = answer.json()
        return result

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert len({a["id"] for a in answers}) == 1
    assert balance(env) == before - answers[0]["price"]
    assert listed(env) == [answers[0]["id"]]


# Through the SDK, over real HTTP --------------------------------------------------------


class LoseAnswers(httpx.HTTPTransport):
    """Sends each request for real, then loses the answer to the first ``count`` tries
    of every submit (each key): the server committed, the client never hears."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.keys: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST" and request.url.path.startswith("/api/v1/jobs"):
            key = request.headers.get("Idempotency-Key")
            self.keys.append(key)
            if self.keys.count(key) <= self.count:
                response.read()
                response.close()
                raise httpx.ReadError("connection reset before the answer", request=request)
        return response


class LoseAnswersAsync(httpx.AsyncHTTPTransport):
    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.keys: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.method == "POST" and request.url.path.startswith("/api/v1/jobs"):
            key = request.headers.get("Idempotency-Key")
            self.keys.append(key)
            if self.keys.count(key) <= self.count:
                await response.aread()
                await response.aclose()
                raise httpx.ReadError("connection reset before the answer", request=request)
        return response


def test_the_sdk_retries_a_lost_answer_and_is_charged_once(env: Env, served: str) -> None:
    before = balance(env)
    transport = LoseAnswers(2)
    with Client(served, env.key, transport=transport) as client:
        job = client.submit_image("a red circle", "echo-image@fp32")
        batch = client.submit_many([env.image(prompt="one"), env.image(prompt="two")])
    assert len(transport.keys) == 6  # each submit lost two answers and was sent twice more
    assert len(set(transport.keys[:3])) == len(set(transport.keys[3:])) == 1
    assert transport.keys[0] != transport.keys[3]
    assert sorted(listed(env)) == sorted([job["id"], *(j["id"] for j in batch)])
    assert balance(env) == before - job["price"] - sum(j["price"] for j in batch)


def test_the_async_sdk_retries_a_lost_answer_and_is_charged_once(env: Env, served: str) -> None:
    before = balance(env)
    transport = LoseAnswersAsync(1)

    async def submit() -> dict[str, Any]:
        async with AsyncClient(served, env.key, transport=transport) as client:
            job: dict[str, Any] = await client.submit_text("echo-text@fp32", prompt="hi")
            return job

    job = asyncio.run(submit())
    assert transport.keys[0] == transport.keys[1] and len(transport.keys) == 2
    assert listed(env) == [job["id"]]
    assert balance(env) == before - job["price"]
