"""``/metrics``: per-app registries, event counters, store state, operator-only access,
and one structured log line per job event."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo

from swarmgen.coordinator.admin import create_key
from swarmgen.coordinator.app import create_app
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.sdk.client import SwarmgenAPIError


def scrape(env: Env, key: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = env.http.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_count_events_and_read_state(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    operator = create_key(env.store, env.clock, "ops", "admin").key
    image = (("offering", "echo-image@fp32"),)
    before = scrape(env, operator)
    assert ("swarmgen_jobs_submitted_total", image) not in before
    caplog.set_level(logging.INFO, logger="swarmgen.jobs")
    job_id = env.submit(env.image())["id"]
    worker = env.worker()
    worker.register("w", MODELS, 4096, 1)
    (assignment,) = worker.pop(0.1)
    assert worker.pop(0) == []
    worker.submit([run_echo(worker, assignment)])
    after = scrape(env, operator)
    assert after[("swarmgen_jobs_submitted_total", image)] == 1
    assert after[("swarmgen_jobs_leased_total", image)] == 1
    assert after[("swarmgen_jobs_completed_total", ())] == 1
    assert after[("swarmgen_pop_seconds_count", (("outcome", "leased"),))] == 1
    assert after[("swarmgen_pop_seconds_count", (("outcome", "empty"),))] == 1
    completed = (("offering", "echo-image@fp32"), ("state", "completed"))
    assert after[("swarmgen_jobs", completed)] == 1
    assert after[("swarmgen_workers_online", ())] == 1
    assert (
        after[("swarmgen_ledger_entries_total", ())] > before[("swarmgen_ledger_entries_total", ())]
    )
    # a new worker's every job is drawn: its check waits for a validator
    assert after[("swarmgen_checks", (("status", "pending"),))] == 1
    assert after[("swarmgen_queue_depth", image)] == 1  # the validation job
    events = [(r.event, r.job_ids) for r in caplog.records if hasattr(r, "event")]  # type: ignore[attr-defined]
    assert [e for e in events if job_id in e[1]] == [
        ("submitted", [job_id]), ("leased", [job_id]), ("completed", [job_id])
    ]  # fmt: skip
    assert any(f"job_ids={job_id}" in r.getMessage() for r in caplog.records)
    with pytest.raises(SwarmgenAPIError):  # the job is no longer leased to it
        worker.submit([run_echo(worker, assignment)])
    refused = scrape(env, operator)
    assert refused[("swarmgen_results_rejected_total", (("code", "not_leased"),))] == 1


def test_metrics_answer_operators_only(env: Env) -> None:
    assert env.http.get("/metrics").status_code == 401
    refused = env.http.get("/metrics", headers=env.auth)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")


def test_two_apps_in_one_process_keep_their_own_counts(tmp_path: Path) -> None:
    """Each app registers its metrics in its own registry: a second app neither clashes
    with the first (the global registry refuses a metric twice) nor shares its counts."""
    apps = [create_app(CoordinatorSettings(data=tmp_path / name)) for name in ("one", "two")]
    clients = [TestClient(app) for app in apps]
    keys = []
    for app, http, jobs in zip(apps, clients, (2, 1), strict=True):
        http.__enter__()
        key = create_key(app.state.store, app.state.clock, "ops", "admin", 10**9).key
        keys.append(key)
        body = {"kind": "text", "model": "echo-text@fp32", "prompt": "hi"}
        for _ in range(jobs):
            accepted = http.post(
                "/api/v1/jobs", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            assert accepted.status_code == 202, accepted.text
    try:
        for http, key, jobs in zip(clients, keys, (2, 1), strict=True):
            text = http.get("/metrics", headers={"Authorization": f"Bearer {key}"}).text
            assert f'swarmgen_jobs_submitted_total{{offering="echo-text@fp32"}} {jobs}.0' in text
    finally:
        for app, http in zip(apps, clients, strict=True):
            http.__exit__(None, None, None)
            app.state.store.dispose()
