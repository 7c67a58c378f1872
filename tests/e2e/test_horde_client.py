"""AI Horde's own client, ``horde_sdk``, against a coordinator with a real worker on the
offline models: an image and a text round trip, a user lookup and two refused requests.

``horde_sdk`` reads its base URL (``AI_HORDE_URL``) when it is imported, so the client
runs in a subprocess of its own, which prints what it got as one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from swarmgen.localnet import LocalNetwork

pytestmark = pytest.mark.models

IMAGE = "shapes-64@fp32"
TEXT = "smollm2-135m@fp32"

CLIENT = """
import io, json, sys
from horde_sdk.ai_horde_api.ai_horde_clients import AIHordeAPISimpleClient
from horde_sdk.ai_horde_api.apimodels import (
    FindUserRequest, ImageGenerateAsyncRequest, ImageGenerationInputPayload,
    ModelGenerationInputKobold, TextGenerateAsyncRequest,
)
from horde_sdk.ai_horde_api.ai_horde_clients import AIHordeAPIManualClient
from horde_sdk.ai_horde_api.exceptions import AIHordePayloadValidationError, AIHordeRequestError

key, image_model, text_model = sys.argv[1:4]
client = AIHordeAPISimpleClient()
out = {"heartbeat": client.heartbeat_request().message}
status, job_id = client.image_generate_request(
    ImageGenerateAsyncRequest(
        apikey=key, prompt="a red circle ### noise", models=[image_model],
        params=ImageGenerationInputPayload(width=64, height=64, steps=4, seed="11", n=2,
                                           sampler_name="k_euler", cfg_scale=7.5),
    ),
    timeout=120,
)
images = []
for generation in status.generations:
    image = client.download_image_from_generation(generation)
    png = io.BytesIO()
    image.save(png, format="PNG")
    images.append({"size": list(image.size), "seed": generation.seed, "model": generation.model,
                   "worker_id": str(generation.worker_id), "worker_name": generation.worker_name,
                   "state": str(generation.state), "url": generation.img[:4] == "http"})
out["image"] = {"id": str(job_id), "done": status.done, "images": images}
text, text_id = client.text_generate_request(
    TextGenerateAsyncRequest(apikey=key, prompt="Name a colour.", models=[text_model],
                             params=ModelGenerationInputKobold(max_length=16, temperature=0)),
    timeout=120,
)
generation = text.generations[0]
out["text"] = {"id": str(text_id), "text": generation.text, "model": generation.model,
               "worker_name": generation.worker_name, "count": len(text.generations)}
manual = AIHordeAPIManualClient()
find = FindUserRequest(apikey=key)
user = manual.submit_request(find, find.get_default_success_response_type())
out["user"] = {"username": user.username, "kudos": user.kudos}
try:  # a 400 with ``errors`` is what horde_sdk reads as Horde's payload validation
    client.text_generate_request(
        TextGenerateAsyncRequest(apikey=key, prompt="x", models=["nope@fp32"]), timeout=30)
except AIHordePayloadValidationError as exc:
    out["invalid"] = str(exc)
try:
    client.text_generate_request(
        TextGenerateAsyncRequest(apikey="x" * 22, prompt="x", models=[text_model]), timeout=30)
except AIHordeRequestError as exc:
    out["refused"] = str(exc)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def network(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path
) -> Iterator[tuple[str, str]]:
    """One coordinator and one worker serving both offerings, and a Horde-shaped key."""
    data = tmp_path_factory.mktemp("horde-net")
    with LocalNetwork(data) as net:
        key = net.create_key("horde-user", horde=True)
        net.start_coordinator(env={"SWARMGEN_VERIFY": "false"})
        net.start_worker("w1", [IMAGE, TEXT], "--threads", "1",
                         env={"SWARMGEN_CACHE": str(model_cache)})  # fmt: skip
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            models = httpx.get(f"{net.url}/api/v1/models", timeout=5).json()["models"]
            if {IMAGE, TEXT} <= {m["model"] for m in models if m["workers_online"]}:
                break
            time.sleep(0.5)
        else:
            raise TimeoutError(f"the worker did not come online; see {data / 'logs'}")
        yield net.url, key


def test_horde_sdk_round_trips(network: tuple[str, str]) -> None:
    url, key = network
    assert len(key) == 22  # horde_sdk refuses any other length (but the anonymous key)
    env = {**os.environ, "AI_HORDE_URL": f"{url}/api/", "HORDE_SDK_DISABLE_CUSTOM_SINKS": "1"}
    run = subprocess.run(
        [sys.executable, "-c", CLIENT, key, IMAGE, TEXT],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["heartbeat"] == "OK"
    image = out["image"]
    assert image["done"] and len(image["images"]) == 2
    assert [i["seed"] for i in image["images"]] == ["11", "12"]
    for generated in image["images"]:
        assert generated["size"] == [64, 64] and generated["model"] == IMAGE
        assert generated["worker_name"] == "w1" and generated["worker_id"]
        assert generated["url"]  # Horde's default r2: a signed link the client fetched
    assert out["text"]["text"] and out["text"]["model"] == TEXT
    assert out["text"]["worker_name"] == "w1" and out["text"]["count"] == 1
    assert out["user"]["username"].startswith("horde-user#") and out["user"]["kudos"] > 0
    assert "no text model offering among: nope@fp32" in out["invalid"]
    assert "unknown or revoked API key" in out["refused"]
    # the ids the client followed are not the jobs' public ids
    jobs = httpx.get(f"{url}/api/v1/jobs", headers={"Authorization": f"Bearer {key}"}).json()
    ids = {job["id"] for job in jobs["jobs"]}
    assert len(ids) == 2
    assert not ids & {out["image"]["id"].replace("-", ""), out["text"]["id"].replace("-", "")}
