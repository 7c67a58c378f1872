"""The public network view: models, workers, stats; and what it must not tell a worker."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo

from swarmgen.coordinator.windows import PUBLIC_WINDOW_S
from swarmgen.core.offerings import Offering
from swarmgen.registry import load_registry
from swarmgen.sdk.worker_client import WorkerClient

NO_CHECKS = pytest.mark.parametrize("settings_overrides", [{"verify": False}])


def get(env: Env, path: str, status: int = 200, **params: Any) -> Any:
    response = env.http.get(path, params=params)
    assert response.status_code == status, response.text
    return response.json()


def models(env: Env) -> dict[str, Any]:
    return {m["model"]: m for m in get(env, "/api/v1/models")["models"]}


def serve(env: Env, worker: WorkerClient, count: int = 1) -> list[str]:
    """Pop and complete up to ``count`` jobs on ``worker``; returns their ids."""
    done = []
    for assignment in worker.pop(0.1, count):
        worker.submit([run_echo(worker, assignment)])
        done.append(assignment["job_id"])
    return done


def owned_worker(env: Env, owner: str, name: str) -> WorkerClient:
    worker = env.worker()
    worker.owner_key = env.new_key(owner)
    worker.register(name, MODELS, 1 << 20, 1)
    return worker


def test_models_list_every_offering_with_price_and_figures(env: Env) -> None:
    listed = models(env)
    registry = load_registry()
    assert set(listed) == {str(o) for o in registry.all_offerings()}
    tiny = listed["tiny-sd@fp32"]
    assert tiny["kind"] == "image" and tiny["precision"] == "fp32"
    assert tiny["typical_price"] > 0 and tiny["typical_job"]["width"] == 64
    assert "seed" not in tiny["typical_job"]
    assert tiny["verification"]["calibrated"] is True
    assert 0 < tiny["verification"]["detection"] <= 1
    assert "phash" not in tiny["verification"]  # thresholds are not a target to publish
    assert listed["echo-text@fp32"]["verification"] == {"calibrated": False}
    assert listed["shapes-64@fp32"]["typical_job"]["width"] * 64 <= 4096


def test_each_tier_lists_its_price_how_it_is_computed_its_footprint_and_quality(
    env: Env,
) -> None:
    listed = models(env)
    registry = load_registry()
    for name in ("shapes-64", "smollm2-135m"):
        for precision in ("fp32", "fp16", "bf16", "int8", "int4"):
            view = listed[f"{name}@{precision}"]
            entry = registry.offering(Offering.parse(view["model"]))
            assert view["typical_price"] > 0
            assert view["footprint"] == entry.footprint and view["quality"] == entry.quality
    assert listed["smollm2-135m@int4"]["tier"] == (
        "optimum-quanto>=0.2.7,<0.3 quanto-weight-only 4-bit group 128 Linear in model on bfloat16"
    )
    assert "keeps lm_head" in listed["smollm2-135m@int8"]["tier"]
    assert listed["shapes-64@fp16"]["tier"] == "torch>=2.13,<2.14 dtype float16"
    assert listed["shapes-64@fp32"]["tier"] == "reference (model pins)"


@NO_CHECKS
def test_models_follow_the_queue_and_completions_a_window_late(env: Env) -> None:
    env.next_window()
    before = models(env)["echo-image@fp32"]
    assert (before["queued"], before["workers_online"], before["median_s"]) == (0, 0, None)
    env.submit(env.image())
    env.submit(env.image())
    worker = env.worker()
    worker.register("w", MODELS, 4096, 1)
    env.clock.advance(PUBLIC_WINDOW_S - 1)  # the same window: nothing moved yet
    same = models(env)["echo-image@fp32"]
    assert (same["queued"], same["workers_online"]) == (0, 0)
    assert get(env, "/api/v1/stats")["queued"] == 0
    env.next_window()
    now = models(env)["echo-image@fp32"]
    assert (now["queued"], now["running"], now["workers_online"]) == (2, 0, 1)
    assert models(env)["echo-text@fp32"]["workers_online"] == 1
    assert len(serve(env, worker)) == 1
    assert models(env)["echo-image@fp32"]["queued"] == 2  # still the window's figure
    env.next_window()
    after = models(env)["echo-image@fp32"]
    assert (after["queued"], after["done_last_hour"]) == (1, 1)
    assert after["median_s"] == pytest.approx(PUBLIC_WINDOW_S, abs=1)
    stats = get(env, "/api/v1/stats")
    assert (stats["queued"], stats["done_last_hour"], stats["workers_online"]) == (1, 1, 1)
    env.clock.advance(3601)  # out of the hour, and the worker went quiet
    late = models(env)["echo-image@fp32"]
    assert (late["done_last_hour"], late["median_s"], late["workers_online"]) == (0, None, 0)


@NO_CHECKS
def test_a_completion_just_before_a_window_starts_shows_from_that_window_only(env: Env) -> None:
    env.next_window()
    worker = env.worker()
    worker.register("w", MODELS, 4096, 1)
    env.submit(env.image())
    env.next_window(after_s=-0.001)  # the last millisecond of this window
    assert len(serve(env, worker)) == 1
    assert get(env, "/api/v1/stats")["done_last_hour"] == 0
    env.next_window()
    assert get(env, "/api/v1/stats")["done_last_hour"] == 1
    env.next_window(after_s=-0.001)
    assert get(env, "/api/v1/stats")["done_last_hour"] == 1


def test_unknown_model_and_bad_names_answer_in_the_native_shape(env: Env) -> None:
    assert get(env, "/api/v1/models/echo-image@fp32")["kind"] == "image"
    missing = get(env, "/api/v1/models/nope@fp32", 404)
    assert missing["error"]["code"] == "not_found"
    assert get(env, "/api/v1/models/" + "x" * 81, 422)["error"]["code"] == "invalid_request"
    assert get(env, "/api/v1/workers", 422, limit=0)["error"]["fields"][0]["field"] == "limit"
    assert get(env, "/api/v1/workers", 422, limit=501)["error"]["fields"][0]["limit"] == 500
    assert get(env, "/api/v1/workers/nobody", 404)["error"]["code"] == "not_found"
    wrong = env.http.delete("/api/v1/stats")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")


def test_worker_list_pages_by_id(env: Env) -> None:
    ids = sorted(owned_worker(env, f"owner{i}", f"w{i}").keys.public_key for i in range(3))
    first = get(env, "/api/v1/workers", limit=2)
    assert [w["id"] for w in first["workers"]] == ids[:2]
    rest = get(env, "/api/v1/workers", limit=2, after=first["next_after"])
    assert [w["id"] for w in rest["workers"]] == ids[2:]
    assert rest["next_after"] is None
    assert all(w["online"] and w["models"] == MODELS for w in first["workers"])


def test_signed_stake_route_still_answers_beside_the_worker_pages(env: Env) -> None:
    worker = owned_worker(env, "bob", "staker")
    assert worker.stake()["locked"] == 0  # POST /workers/stake, not GET /workers/{id}
    page = get(env, f"/api/v1/workers/{worker.keys.public_key}")
    assert page["name"] == "staker" and page["owned"] is True


def test_a_worker_page_tells_nothing_of_the_open_epoch(env: Env) -> None:
    """With every job of a new worker checked, a validator runs a validation job: its
    page (and the claimant's) must read the same as if nothing had happened until the
    epoch is published, or a worker could tell checks from ordinary jobs by watching."""
    claimant = owned_worker(env, "carol", "claimant")
    env.submit(env.image())
    assert serve(env, claimant)
    validator = owned_worker(env, "dave", "validator")
    pages = {}
    for worker in (claimant, validator):
        pages[worker.keys.public_key] = get(env, f"/api/v1/workers/{worker.keys.public_key}")
    ran = serve(env, validator)
    assert ran, "the claimant's job should have been drawn for a check"
    for worker_id, before in pages.items():
        after = get(env, f"/api/v1/workers/{worker_id}")
        assert after["jobs_done"] == before["jobs_done"] == 0
        assert after["earnings"] == before["earnings"] == []
        assert after["checks_passed"] + after["checks_failed"] == 0
        assert after["verdicts"] == [] and after["published_epoch"] == -1


@NO_CHECKS
def test_a_published_epoch_shows_jobs_earnings_and_verdicts(env: Env) -> None:
    worker = owned_worker(env, "erin", "earner")
    env.submit(env.image())
    env.submit(env.text())
    assert len(serve(env, worker) + serve(env, worker)) == 2
    env.clock.advance(1)
    env.http.app.state.epochs.close_due(force=True)  # type: ignore[attr-defined]
    page = get(env, f"/api/v1/workers/{worker.keys.public_key}")
    assert page["published_epoch"] >= 0
    assert page["jobs_done"] == 2
    (epoch,) = page["earnings"]
    assert epoch["earned"] > 0 and epoch["paid"] == epoch["earned"]
    assert epoch["forfeited"] == 0
    assert page["verdicts"] == []  # no checks, no verdicts
    for judged in (epoch["epoch"], epoch["epoch"] + 1):  # a published epoch and the open one
        with env.store.transaction() as tx:
            tx.verdicts.record(judged, worker.keys.public_key, invalid=False, evidence={}, now=1)
    page = get(env, f"/api/v1/workers/{worker.keys.public_key}")
    assert page["verdicts"] == [{"epoch": epoch["epoch"], "invalid": False}]
    stats = get(env, "/api/v1/stats")
    assert stats["last_sealed"] == stats["published_epoch"] == epoch["epoch"]
    assert stats["epoch"] == epoch["epoch"] + 1
