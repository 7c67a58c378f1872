"""The dashboard's pages and its provenance route on a real app and database: what each
page shows, HTML 404/422 pages for what it cannot show, native JSON for the JSON route,
and everything a worker or requester chose escaped."""

from __future__ import annotations

import re
from typing import Any

import pytest
from markupsafe import escape
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo

from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.store.records import WorkerRecord

NO_CHECKS = pytest.mark.parametrize("settings_overrides", [{"verify": False}])
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def page(env: Env, path: str, status: int = 200, **params: Any) -> str:
    response = env.http.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    return response.text


def run_jobs(env: Env, worker: WorkerClient, count: int) -> list[str]:
    done = []
    for assignment in worker.pop(0.1, count):
        worker.submit([run_echo(worker, assignment)])
        done.append(assignment["job_id"])
    return done


def test_overview_lists_figures_models_and_the_chart(env: Env) -> None:
    body = page(env, "/")
    assert "workers online" in body and "echo-image@fp32" in body and "shapes-64@fp32" in body
    assert 'src="/charts/throughput.svg"' in body
    assert "<script>" not in body  # no inline script: the page's one script is a file
    chart = env.http.get("/charts/throughput.svg")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
    assert chart.text.startswith("<svg") and 'class="bar"' not in chart.text  # nothing done
    static = env.http.get("/static/dashboard.js")
    assert static.status_code == 200 and "textContent" in static.text
    assert env.http.get("/static/dashboard.css").status_code == 200


@NO_CHECKS
def test_chart_draws_completions_in_their_minute(env: Env) -> None:
    worker = env.worker()
    worker.register("w", MODELS, 4096, 1)
    for _ in range(3):
        env.submit(env.image())
    assert sum(len(run_jobs(env, worker, 1)) for _ in range(3)) == 3
    assert 'class="bar"' not in env.http.get("/charts/throughput.svg").text  # not yet
    env.next_window()  # the chart ends where the public window starts
    svg = env.http.get("/charts/throughput.svg").text
    bars = re.findall(r'class="bar".*?<title>(\d+)</title>', svg)
    assert bars == ["3"]  # three jobs, all in the last minute's bucket
    env.clock.advance(3700)
    assert 'class="bar"' not in env.http.get("/charts/throughput.svg").text


def test_a_worker_name_with_markup_is_escaped_everywhere(env: Env) -> None:
    # The worker API refuses such a name; a row that holds one anyway (an older
    # release, another coordinator on the same database) must still render inert.
    with env.store.transaction() as tx:
        tx.workers.register(WorkerRecord("evil-id", None, EVIL, {"models": [EVIL]}, 0, 0))
    for path in ("/workers", "/workers/evil-id"):
        body = page(env, path)
        assert EVIL not in body and "<img src=x" not in body
        assert str(escape(EVIL)) in body


def test_worker_and_epoch_pages_answer_html_404_and_422(env: Env) -> None:
    assert "no worker nobody" in page(env, "/workers/nobody", 404)
    assert "epoch 0 is not published" in page(env, "/epochs/0", 404)  # open, not sealed
    assert "no sealed entry" in page(env, "/proofs", 404, job="nope")
    bad = page(env, "/epochs/-1", 422)
    assert "epoch" in bad and "greater than or equal to 0" in bad
    assert "job" in page(env, "/proofs", 422)  # the job id is required
    assert "String should have at most 64 characters" in page(env, "/workers/" + "x" * 65, 422)
    long_query = page(env, "/playground", 422, job="y" * 65)
    assert "job" in long_query
    missing = env.http.get("/no-such-page")  # no route at all: the app's native 404
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert env.http.post("/workers").status_code == 405


@NO_CHECKS
def test_ledger_pages_show_published_epochs_and_check_a_proof(env: Env) -> None:
    worker = env.worker()
    worker.register("w", MODELS, 4096, 1)
    job_id = str(env.submit(env.image())["id"])
    assert run_jobs(env, worker, 1) == [job_id]
    assert "No epoch is published yet" in page(env, "/epochs")
    env.http.app.state.epochs.close_due(force=True)  # type: ignore[attr-defined]
    listing = page(env, "/epochs")
    assert 'href="/epochs/0"' in listing and "valid" in listing and "INVALID" not in listing
    assert 'href="/api/v1/ledger/export"' in listing
    epoch = page(env, "/epochs/0")
    assert 'id="epoch-signature">valid' in epoch and job_id[:12] in epoch
    proof = page(env, "/proofs", job=job_id)
    assert "Verified:" in proof and "NOT verified" not in proof
    assert proof.count('class="proof"') >= 2  # the reservation and the release, at least
    assert "&#34;steps&#34;" in proof  # the path, escaped into an attribute for the script
    assert "epoch 1 is not published" in page(env, "/epochs/1", 404)


def owned_worker(env: Env, owner: str) -> WorkerClient:
    worker = env.worker()
    worker.owner_key = env.new_key(owner)
    worker.register(f"{owner}-w", MODELS, 4096, 1)
    return worker


def test_provenance_follows_a_job_for_its_requester_only(env: Env) -> None:
    worker = owned_worker(env, "olga")
    job_id = str(env.submit(env.text(prompt=EVIL))["id"])
    url = f"/playground/provenance/{job_id}"
    queued = env.http.get(url, headers=env.auth).json()
    assert queued["state"] == "queued" and queued["verification"] == "none"
    assert queued["worker_id"] is None and queued["receipt"] is None
    run_jobs(env, worker, 1)
    done = env.http.get(url, headers=env.auth).json()
    assert done["state"] == "completed" and done["verification"] == "optimistic"
    assert done["worker_id"] == worker.keys.public_key and len(done["receipt_digest"]) == 64
    assert done["receipt"]["job_id"] == job_id and done["receipt"]["signature"]
    env.http.app.state.epochs.close_due(force=True)  # type: ignore[attr-defined]
    # a new worker's every job is checked: sealed, but held back while the check is open
    assert env.http.get(url, headers=env.auth).json()["verification"] == "optimistic"
    checker = owned_worker(env, "vera")
    assert len(run_jobs(env, checker, 1)) == 1  # the check settles: epoch 0 is published
    assert env.http.get(url, headers=env.auth).json()["verification"] == "upheld"
    other = env.http.get(url, headers={"Authorization": f"Bearer {env.new_key('bob')}"})
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    anonymous = env.http.get(url, headers={"Authorization": "Bearer 0000000000"})
    assert anonymous.status_code == 404
    unauthenticated = env.http.get(url)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == "unauthorized"
    too_long = env.http.get("/playground/provenance/" + "z" * 65, headers=env.auth)
    assert too_long.status_code == 422 and too_long.json()["error"]["code"] == "invalid_request"


def test_pages_render_the_forms_the_script_needs(env: Env) -> None:
    playground = page(env, "/playground", job="abc")
    assert 'id="playground"' in playground and 'data-jobs-url="/api/v1/jobs"' in playground
    assert 'data-job="abc"' in playground and 'data-kind="text"' in playground
    assert 'data-anonymous-key="0000000000"' in playground
    assert 'id="jobs"' in page(env, "/jobs")


@pytest.mark.parametrize("settings_overrides", [{"anonymous_key": None}])
def test_no_anonymous_button_without_an_anonymous_key(env: Env) -> None:
    body = page(env, "/playground")
    assert 'data-anonymous-key=""' in body and 'id="key-anonymous"' not in body
