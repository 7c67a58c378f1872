"""Results kept in a bucket (a real S3-API server on loopback) and served by redirect to a
presigned link, or relayed: over real HTTP, through the SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo

from swarmgen.blobs.s3 import S3BlobStore
from swarmgen.sdk import Client, SwarmgenAPIError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(params=[60, 0], ids=["redirect", "relay"])
def settings_overrides(
    request: pytest.FixtureRequest, s3_bucket: str, s3_endpoint: str
) -> dict[str, Any]:
    return {
        "blob_store": "s3",
        "s3_bucket": s3_bucket,
        "s3_endpoint_url": s3_endpoint,
        "result_redirect_s": request.param,
    }


def completed(env: Env, body: dict[str, object]) -> str:
    accepted = env.submit(body)
    worker = env.worker()
    worker.register("w1", MODELS, 1024 * 1024, 16)
    (assignment,) = worker.pop(0, 16)
    worker.submit([run_echo(worker, assignment)])
    return str(accepted["id"])


def bucket(env: Env) -> S3BlobStore:
    blobs = env.http.app.state.services.blobs  # type: ignore[attr-defined]
    assert isinstance(blobs, S3BlobStore)
    return blobs


def stored_key(env: Env, job_id: str, index: int = 0) -> str:
    outputs = env.reads.jobs.get(job_id).outputs
    return str(outputs[index])


def test_results_live_in_the_bucket_and_the_sdk_reads_them(
    env: Env, served: str, settings_overrides: dict[str, Any]
) -> None:
    job_id = completed(env, env.image(n=2))
    blobs = bucket(env)
    for index in (0, 1):
        key = stored_key(env, job_id, index)
        raw = blobs.client.get_object(Bucket=settings_overrides["s3_bucket"], Key=blobs.name(key))
        assert hashlib.sha256(raw["Body"].read()).hexdigest() == key
    assert not (env.data / "blobs").exists() or not any((env.data / "blobs").rglob("*"))

    answer = httpx.get(f"{served}/api/v1/jobs/{job_id}/result?index=1", headers=env.auth)
    if settings_overrides["result_redirect_s"]:
        assert answer.status_code == 307
        assert answer.headers["location"].startswith(settings_overrides["s3_endpoint_url"])
        assert "X-Amz-Signature=" in answer.headers["location"]
        assert answer.headers["repr-digest"].startswith("sha-256=:")
    else:
        assert answer.status_code == 200 and answer.content.startswith(PNG_MAGIC)

    with Client(served, env.key) as client:
        image = client.result(job_id, 1)
    assert image.startswith(PNG_MAGIC)
    assert hashlib.sha256(image).hexdigest() == stored_key(env, job_id, 1)


def test_a_text_result_is_redirected_as_stored_json_and_relayed_as_text(
    env: Env, served: str, settings_overrides: dict[str, Any]
) -> None:
    job_id = completed(env, env.text())
    raw = httpx.get(f"{served}/api/v1/jobs/{job_id}/result", headers=env.auth)
    assert raw.status_code == 200  # plain text is derived from the blob: always relayed
    as_json = httpx.get(f"{served}/api/v1/jobs/{job_id}/result?format=json", headers=env.auth)
    assert as_json.status_code == (307 if settings_overrides["result_redirect_s"] else 200)
    with Client(served, env.key) as client:
        assert client.result(job_id, format="json").startswith(b"{")
        assert client.result(job_id) == raw.content


def test_a_tampered_bucket_is_caught_by_the_coordinator_or_the_sdk(
    env: Env, served: str, settings_overrides: dict[str, Any]
) -> None:
    job_id = completed(env, env.image())
    blobs = bucket(env)
    key = stored_key(env, job_id)
    blobs.client.put_object(
        Bucket=settings_overrides["s3_bucket"], Key=blobs.name(key), Body=PNG_MAGIC + b"forged"
    )
    with Client(served, env.key) as client, pytest.raises(SwarmgenAPIError) as caught:
        client.result(job_id)
    if settings_overrides["result_redirect_s"]:
        assert caught.value.code == "digest_mismatch"
    else:
        assert (caught.value.status, caught.value.code) == (503, "storage_unavailable")


def test_the_redirect_leaves_the_api_key_behind(
    env: Env, served: str, settings_overrides: dict[str, Any]
) -> None:
    job_id = completed(env, env.image())
    seen: list[httpx.Request] = []
    with httpx.Client(headers=env.auth, event_hooks={"request": [seen.append]}) as http:
        answer = http.get(f"{served}/api/v1/jobs/{job_id}/result", follow_redirects=True)
    assert answer.status_code == 200 and answer.content.startswith(PNG_MAGIC)
    assert "authorization" in seen[0].headers
    if settings_overrides["result_redirect_s"]:
        assert len(seen) == 2
        assert "authorization" not in seen[1].headers  # another origin: httpx drops it
    else:
        assert len(seen) == 1


def test_results_of_unfinished_or_foreign_jobs_are_refused_before_any_link(
    env: Env, served: str
) -> None:
    job_id = completed(env, env.image())
    queued = env.submit(env.image())
    answer = httpx.get(f"{served}/api/v1/jobs/{queued['id']}/result", headers=env.auth)
    assert answer.status_code == 409
    other = {"Authorization": f"Bearer {env.new_key('mallory')}"}
    assert httpx.get(f"{served}/api/v1/jobs/{job_id}/result", headers=other).status_code == 404
    bad_index = httpx.get(f"{served}/api/v1/jobs/{job_id}/result?index=3", headers=env.auth)
    assert bad_index.status_code == 422
