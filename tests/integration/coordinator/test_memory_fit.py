"""Declared memory: a worker registers only offerings whose measured footprint fits it,
and is never leased a job (nor drawn for a seat) of an offering that does not fit."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import pytest
from tests.integration.coordinator.conftest import Env

from swarmgen.sdk.client import SwarmgenAPIError

GB = 1_000_000_000
ECHO_IMAGE = 'offerings.fp32 = { price_multiplier = 1, emission_share = 1 }\n\n[models."echo-text"]'
ECHO_TEXT = 'offerings.fp32 = { price_multiplier = 1, emission_share = 1 }\n\n[models."shapes-64"]'


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, object]:
    """echo-image measured at 2 GB, echo-text at 0.1 GB."""
    shipped = resources.files("swarmgen").joinpath("models.toml").read_text("utf-8")
    assert shipped.count(ECHO_IMAGE) == shipped.count(ECHO_TEXT) == 1
    sized = shipped.replace(
        ECHO_IMAGE,
        ECHO_IMAGE.replace("emission_share = 1 }", f"emission_share = 1, footprint = {2 * GB} }}"),
    ).replace(
        ECHO_TEXT,
        ECHO_TEXT.replace("emission_share = 1 }", f"emission_share = 1, footprint = {GB // 10} }}"),
    )
    path = tmp_path / "models.toml"
    path.write_text(sized)
    return {"registry": path}


BOTH = ["echo-image@fp32", "echo-text@fp32"]


def test_registration_refuses_an_offering_larger_than_the_declared_memory(env: Env) -> None:
    worker = env.worker()
    with pytest.raises(SwarmgenAPIError) as refused:
        worker.register("small", BOTH, 1024 * 1024, 4, GB)
    assert refused.value.status == 422
    (problem,) = refused.value.details["fields"]
    assert problem["field"] == "capabilities.models[0]"
    assert "echo-image@fp32 needs 2000000000 bytes" in problem["reason"]
    assert problem["limit"] == 2 * GB
    assert worker.register("small", ["echo-text@fp32"], 1024 * 1024, 4, GB)["models"] == [
        "echo-text@fp32"
    ]
    assert env.worker().register("large", BOTH, 1024 * 1024, 4, 2 * GB)["models"] == BOTH
    assert env.worker().register("undeclared", BOTH, 1024 * 1024, 4)["models"] == BOTH


@pytest.mark.parametrize("memory", [0, -1, 2**60])
def test_a_malformed_memory_is_refused_at_the_edge(env: Env, memory: int) -> None:
    with pytest.raises(SwarmgenAPIError) as refused:
        env.worker().register("w", BOTH, 1024 * 1024, 4, memory)
    assert refused.value.status == 422


def test_no_job_is_leased_to_a_worker_whose_memory_cannot_hold_it(env: Env) -> None:
    worker = env.worker()
    worker.register("w", BOTH, 1024 * 1024, 4, 2 * GB)
    # the worker's record now says 1 GB (as if the footprint had been re-measured higher
    # since it registered): dispatch must follow the declared memory, not the registration
    worker_id = worker.keys.public_key
    with env.store.transaction() as tx:
        record = tx.workers.get(worker_id)
        assert record is not None
        caps = {**record.capabilities, "memory": GB}
        tx.workers.register(dataclasses.replace(record, capabilities=caps))
    image = str(env.submit(env.image(width=64, height=64))["id"])
    text = str(env.submit(env.text())["id"])
    assert [a["job_id"] for a in worker.pop(0, 4)] == [text]
    assert worker.pop(0, 4) == []
    assert env.reads.jobs.get(image).state.value == "queued"
