"""The SDK's shared request base: one description per endpoint, sent sync or async."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from swarmgen.sdk.base import SwarmgenAPIError, finished, image_job, next_wait, text_job
from swarmgen.sdk.client import AsyncClient, Client

ACCEPTED = {
    "id": "j1",
    "state": "queued",
    "queue_position": 0,
    "price": 10,
    "payment": "reserved",
    "seed": 3,
}


class Recorder:
    """Answers like a coordinator would and records every request it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, Any] | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.seen.append((request.method, str(request.url), body))
        if request.url.path == "/api/v1/jobs" and request.method == "POST":
            return httpx.Response(202, json=ACCEPTED)
        if request.url.path == "/api/v1/jobs":
            return httpx.Response(200, json={"jobs": []})
        if request.url.path.endswith("/result"):
            return httpx.Response(200, content=b"\x89PNG")
        error = {"code": "not_found", "message": "no job"}
        return httpx.Response(404, json={"error": error})


def test_image_and_text_bodies_follow_the_protocol() -> None:
    body = image_job("a red circle", "echo-image@fp32", steps=3)
    assert body == {
        "kind": "image",
        "model": "echo-image@fp32",
        "prompt": "a red circle",
        "steps": 3,
    }
    chat = text_job("echo-text@fp32", messages=[{"role": "user", "content": "hi"}])
    assert chat["messages"] == [{"role": "user", "content": "hi"}]
    assert text_job("echo-text@fp32", prompt="hi")["prompt"] == "hi"
    with pytest.raises(TypeError, match="stpes"):
        image_job("a red circle", "echo-image@fp32", stpes=3)


def test_bad_values_are_left_for_the_server_to_refuse() -> None:
    assert image_job("", "m", width=7)["width"] == 7  # the 422 names the field and limit


def test_sync_and_async_clients_send_the_same_requests() -> None:
    sync, asynchronous = Recorder(), Recorder()
    with Client("http://c", "k", transport=httpx.MockTransport(sync)) as client:
        assert client.submit_image("p", "m", steps=2) == ACCEPTED
        assert client.jobs(state="queued", updated_since=5) == []
        assert client.result("j1", index=1) == b"\x89PNG"
        with pytest.raises(SwarmgenAPIError) as missing:
            client.status("nope")
    assert missing.value.status == 404 and missing.value.code == "not_found"

    async def run() -> None:
        transport = httpx.MockTransport(asynchronous)
        async with AsyncClient("http://c", "k", transport=transport) as client:
            assert await client.submit_image("p", "m", steps=2) == ACCEPTED
            assert await client.jobs(state="queued", updated_since=5) == []
            assert await client.result("j1", index=1) == b"\x89PNG"
            with pytest.raises(SwarmgenAPIError):
                await client.status("nope")

    asyncio.run(run())
    assert sync.seen == asynchronous.seen
    assert sync.seen[1][1] == "http://c/api/v1/jobs?limit=50&state=queued&updated_since=5"


def test_an_answer_that_breaks_the_protocol_fails_at_once() -> None:
    def wrong(_: httpx.Request) -> httpx.Response:
        return httpx.Response(202, json={"id": "j1"})

    client = Client("http://c", "k", transport=httpx.MockTransport(wrong))
    with client, pytest.raises(ValueError, match="queue_position"):
        client.submit(image_job("p", "m"))


def test_waits_are_long_polls_bounded_by_what_is_left() -> None:
    assert next_wait(100.0) == 30.0
    assert next_wait(2.5) == 2.5
    assert next_wait(-1.0) == 0.0
    assert finished({"state": "completed"}, 10.0)
    assert not finished({"state": "queued"}, 10.0)
    assert finished({"state": "queued"}, 0.0)


class Flaky:
    """Fails the first ``failures`` requests (``error``: a 5xx, or a lost connection)."""

    def __init__(self, failures: int, error: int | None = 503) -> None:
        self.failures = failures
        self.error = error
        self.keys: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.keys.append(request.headers.get("Idempotency-Key"))
        if len(self.keys) <= self.failures:
            if self.error is None:
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(self.error, json={"error": {"code": "oops", "message": "x"}})
        if request.url.path == "/api/v1/jobs/batch":
            return httpx.Response(202, json={"jobs": [ACCEPTED]})
        if request.url.path == "/api/v1/jobs":
            return httpx.Response(202, json=ACCEPTED)
        return httpx.Response(200, json={"jobs": []})


@pytest.fixture
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("swarmgen.sdk.base.RETRY_DELAYS_S", (0.0, 0.0, 0.0))


@pytest.mark.usefixtures("no_pauses")
@pytest.mark.parametrize("error", [503, None], ids=["5xx", "connection"])
def test_a_submit_is_sent_again_under_the_same_key(error: int | None) -> None:
    flaky = Flaky(2, error)
    with Client("http://c", "k", transport=httpx.MockTransport(flaky)) as client:
        assert client.submit_image("p", "m") == ACCEPTED
    assert len(flaky.keys) == 3 and len(set(flaky.keys)) == 1 and flaky.keys[0]

    flaky = Flaky(1, error)

    async def run() -> list[dict[str, Any]]:
        transport = httpx.MockTransport(flaky)
        async with AsyncClient("http://c", "k", transport=transport) as client:
            jobs: list[dict[str, Any]] = await client.submit_many([image_job("p", "m")])
            return jobs

    assert asyncio.run(run()) == [ACCEPTED]
    assert len(flaky.keys) == 2 and len(set(flaky.keys)) == 1


@pytest.mark.usefixtures("no_pauses")
def test_retries_end_and_other_calls_are_not_repeated() -> None:
    flaky = Flaky(10)
    with Client("http://c", "k", transport=httpx.MockTransport(flaky)) as client:
        with pytest.raises(SwarmgenAPIError) as failed:
            client.submit(image_job("p", "m"), idempotency_key="mine")
        assert failed.value.status == 503
        assert flaky.keys == ["mine"] * 4  # the first try and one per pause
        with pytest.raises(SwarmgenAPIError):
            client.jobs()
    assert flaky.keys[4:] == [None]  # a read is sent once, with no key
    refused = Flaky(1, 409)
    client = Client("http://c", "k", transport=httpx.MockTransport(refused))
    with client, pytest.raises(SwarmgenAPIError):
        client.submit(image_job("p", "m"))
    assert len(refused.keys) == 1  # a 4xx is an answer, not a lost one
