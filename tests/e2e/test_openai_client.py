"""The real ``openai`` client (sync and async) against a coordinator with a real worker on
the offline models: model list, chat with logprobs, streams with usage, completions,
and images as base64 and as signed links."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI, BadRequestError, NotFoundError, OpenAI

from swarmgen.localnet import LocalNetwork

pytestmark = pytest.mark.models

IMAGE = "shapes-64@fp32"
TEXT = "smollm2-135m@fp32"
MESSAGES = [{"role": "user", "content": "Name a colour."}]
IMAGE_EXTRAS = {"seed": 11, "steps": 4}


@pytest.fixture(scope="module")
def coordinator(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path
) -> Iterator[tuple[str, str]]:
    """One coordinator and one worker serving both offerings, for the whole module."""
    data = tmp_path_factory.mktemp("openai-net")
    with LocalNetwork(data) as net:
        key = net.create_key("openai-user")
        net.start_coordinator(env={"SWARMGEN_VERIFY": "false"})
        net.start_worker("w1", [IMAGE, TEXT], "--threads", "1",
                         env={"SWARMGEN_CACHE": str(model_cache)})  # fmt: skip
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            models = httpx.get(f"{net.url}/api/v1/models", timeout=5).json()["models"]
            online = {m["model"] for m in models if m["workers_online"]}
            if {IMAGE, TEXT} <= online:
                break
            time.sleep(0.5)
        else:
            raise TimeoutError(f"the worker did not come online; see {data / 'logs'}")
        yield net.url, key


def check_chat(answer: object) -> None:
    choice = answer.choices[0]  # type: ignore[attr-defined]
    assert choice.message.role == "assistant" and choice.message.content
    content = choice.logprobs.content
    assert content and all(len(position.top_logprobs) == 5 for position in content)
    usage = answer.usage  # type: ignore[attr-defined]
    assert usage.completion_tokens >= len(content) and usage.prompt_tokens > 0
    extension = answer.model_extra["swarmgen"]  # type: ignore[attr-defined]
    assert extension["job_id"] and extension["worker"] and len(extension["receipt_digest"]) == 64


def check_images(b64: object, linked: object) -> None:
    png = base64.b64decode(b64.data[0].b64_json)  # type: ignore[attr-defined]
    assert png.startswith(b"\x89PNG")
    fetched = httpx.get(linked.data[0].url, timeout=10)  # type: ignore[attr-defined]
    assert fetched.status_code == 200 and fetched.content == png  # same seed, same image


def test_sync_client(coordinator: tuple[str, str]) -> None:
    url, key = coordinator
    client = OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    assert {IMAGE, TEXT} <= {m.id for m in client.models.list()}
    chat = client.chat.completions.create(
        model=TEXT, messages=MESSAGES, max_tokens=6, temperature=0, logprobs=True,  # type: ignore[arg-type]
        top_logprobs=5, seed=1,
    )  # fmt: skip
    check_chat(chat)
    stream = client.chat.completions.create(
        model=TEXT, messages=MESSAGES, max_tokens=6, temperature=0, seed=1, stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == chat.choices[0].message.content  # greedy: the same answer, in pieces
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == chat.usage.total_tokens  # type: ignore[union-attr]
    completion = client.completions.create(model=TEXT, prompt="Once upon a time", max_tokens=5,
                                           logprobs=3, temperature=0.7, seed=5)  # fmt: skip
    assert completion.choices[0].logprobs is not None
    assert len(completion.choices[0].logprobs.tokens or []) >= 1
    b64 = client.images.generate(model=IMAGE, prompt="a red circle", size="64x64",  # type: ignore[arg-type]
                                 response_format="b64_json", extra_body=IMAGE_EXTRAS)  # fmt: skip
    linked = client.images.generate(model=IMAGE, prompt="a red circle", size="64x64",  # type: ignore[arg-type]
                                    response_format="url", extra_body=IMAGE_EXTRAS)  # fmt: skip
    check_images(b64, linked)
    with pytest.raises(NotFoundError):
        client.chat.completions.create(model="nope@fp32", messages=MESSAGES)  # type: ignore[arg-type]
    with pytest.raises(BadRequestError) as bad:
        client.chat.completions.create(model=TEXT, messages=MESSAGES, n=2)  # type: ignore[arg-type]
    assert bad.value.param == "n"  # type: ignore[attr-defined]


def test_async_client(coordinator: tuple[str, str]) -> None:
    url, key = coordinator

    async def run() -> None:
        async with AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0) as client:
            listed = [m.id async for m in client.models.list()]
            assert TEXT in listed
            chat = await client.chat.completions.create(
                model=TEXT, messages=MESSAGES, max_tokens=6, temperature=0, logprobs=True,  # type: ignore[arg-type]
                top_logprobs=5, seed=2,
            )  # fmt: skip
            check_chat(chat)
            stream = await client.chat.completions.create(
                model=TEXT, messages=MESSAGES, max_tokens=6, temperature=0, seed=2,  # type: ignore[arg-type]
                stream=True, stream_options={"include_usage": True},
            )  # fmt: skip
            chunks = [chunk async for chunk in stream]
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert text == chat.choices[0].message.content
            assert chunks[-1].usage is not None
            completion = await client.completions.create(model=TEXT, prompt="Hello", max_tokens=4,
                                                         logprobs=2)  # fmt: skip
            assert completion.usage is not None and completion.usage.completion_tokens >= 1
            b64, linked = await asyncio.gather(
                client.images.generate(model=IMAGE, prompt="a blue square", size="64x64",  # type: ignore[arg-type]
                                       response_format="b64_json", extra_body=IMAGE_EXTRAS),
                client.images.generate(model=IMAGE, prompt="a blue square", size="64x64",  # type: ignore[arg-type]
                                       response_format="url", extra_body=IMAGE_EXTRAS),
            )  # fmt: skip
            check_images(b64, linked)

    asyncio.run(run())
