"""Credits through the API: prices, escrow, refunds, payouts, limits, priority, transfers.

Every figure is computed from the registry, the settings and the core rules, never typed in.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from tests.integration.coordinator.conftest import ALICE_CREDITS, Env
from tests.integration.coordinator.helpers import MODELS, run_echo

from swarmgen.coordinator.app import create_app
from swarmgen.coordinator.faces.native.convert import job_request
from swarmgen.coordinator.jobs import resolve_offering
from swarmgen.core import accounts
from swarmgen.core.credits import validator_fee
from swarmgen.core.jobs import LIMITS
from swarmgen.core.pricing import quote as core_quote
from swarmgen.core.priority import PriorityPolicy
from swarmgen.core.rewards import split
from swarmgen.protocol import ImageJobIn, TextJobIn

ANON = {"Authorization": "Bearer 0000000000"}


def price_of(env: Env, body: dict[str, Any]) -> int:
    """The price by the core formula with the registry's rates and multiplier."""
    state = env.http.app.state
    job_in = job_request(
        (ImageJobIn if body["kind"] == "image" else TextJobIn).model_validate(body)
    )
    offering = resolve_offering(state.jobs.registry, job_in)
    multiplier = state.jobs.registry.offering(offering).multiplier_ppm
    spec = replace(job_in.spec, seed=0)
    return core_quote(spec, multiplier, state.jobs.registry.rates).price


def balance(env: Env, key: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key or env.key}"}
    response = env.http.get("/api/v1/credits/balance", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def view(env: Env, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = env.http.get(f"/api/v1/jobs/{job_id}", headers=env.auth).json()
    return body


def test_submit_reserves_the_quoted_price(env: Env) -> None:
    body = env.image(width=128, height=64, steps=7, n=2)
    quote = env.http.post("/api/v1/jobs/quote", json=body, headers=env.auth).json()
    assert quote["price"] == price_of(env, body) > 0
    assert (quote["balance"], quote["shortfall"]) == (ALICE_CREDITS, 0)
    assert balance(env)["balance"] == ALICE_CREDITS  # a quote reserves nothing
    job = env.submit(body)
    assert (job["price"], job["payment"]) == (quote["price"], "reserved")
    after = balance(env)
    assert after["balance"] == ALICE_CREDITS - job["price"]
    assert after["reserved"] == job["price"]
    assert view(env, str(job["id"]))["payment"] == "reserved"
    entries = env.http.get("/api/v1/credits/entries", headers=env.auth).json()["entries"]
    assert [e["kind"] for e in entries] == ["reserve", "grant"]
    assert entries[0]["job_id"] == job["id"]


def test_text_price_counts_prompt_and_max_tokens(env: Env) -> None:
    short, long = env.text(max_tokens=8), env.text(max_tokens=LIMITS.max_tokens)
    prices = [
        env.http.post("/api/v1/jobs/quote", json=b, headers=env.auth).json()["price"]
        for b in (short, long)
    ]
    assert prices == [price_of(env, short), price_of(env, long)]
    assert prices[0] < prices[1]


def test_quote_and_submit_refuse_bad_input(env: Env) -> None:
    bad = env.http.post("/api/v1/jobs/quote", json=env.image(model="nope@fp32"), headers=env.auth)
    assert bad.status_code == 422
    assert env.http.post("/api/v1/jobs/quote", json=env.image()).status_code == 401


def test_insufficient_balance_is_402_with_the_shortfall(env: Env) -> None:
    poor = env.new_key("bob")
    body = env.image()
    response = env.http.post("/api/v1/jobs", json=body, headers={"Authorization": f"Bearer {poor}"})
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert error["shortfall"] == price_of(env, body)
    quote = env.http.post(
        "/api/v1/jobs/quote", json=body, headers={"Authorization": f"Bearer {poor}"}
    )
    assert quote.json()["shortfall"] == price_of(env, body)
    listed = env.http.get("/api/v1/jobs", headers={"Authorization": f"Bearer {poor}"})
    assert listed.json()["jobs"] == []  # nothing was queued


def test_cancel_refunds_the_escrow(env: Env) -> None:
    job = env.submit(env.image())
    env.http.post(f"/api/v1/jobs/{job['id']}/cancel", headers=env.auth)
    assert view(env, str(job["id"]))["payment"] == "refunded"
    after = balance(env)
    assert (after["balance"], after["reserved"]) == (ALICE_CREDITS, 0)
    kinds = [e.kind.value for e in env.reads.ledger.job_entries(str(job["id"]))]
    assert kinds == ["reserve", "refund"]


def test_failed_job_is_refunded_by_the_reaper(env: Env) -> None:
    job = env.submit(env.image())
    worker = env.worker()
    worker.register("w", MODELS, 1024 * 1024, 4)
    for _ in range(2):  # max_attempts = 2
        assert worker.pop(0)
        env.clock.advance(8)
        env.http.app.state.reaper.reap()
    assert view(env, str(job["id"]))["state"] == "failed"
    assert view(env, str(job["id"]))["payment"] == "refunded"
    assert balance(env)["balance"] == ALICE_CREDITS


def test_completion_pays_the_owner_at_the_epoch_close(env: Env) -> None:
    state = env.http.app.state
    owner_key = env.new_key("olga")
    owner = env.reads.users.by_name("olga")
    worker = env.worker()
    worker.owner_key = owner_key
    worker.register("w", MODELS, 1024 * 1024, 4)
    job = env.submit(env.image())
    (assignment,) = worker.pop(0)
    worker.submit([run_echo(worker, assignment)])
    fee = validator_fee(int(job["price"]), state.settings.validator_fee_ppm)
    assert view(env, str(job["id"]))["payment"] == "pending"
    pending = env.reads.ledger.balance(accounts.worker(worker.keys.public_key))
    assert pending == int(job["price"]) - fee
    release = env.reads.ledger.job_entries(str(job["id"]))[-2]
    assert release.posting.receipt is not None and release.posting.receipt.verify()
    validator = env.worker()  # a new worker's job is checked: its earnings wait for that
    validator.owner_key = env.new_key("victor")
    validator.register("v", MODELS, 1024 * 1024, 4)
    validator.submit([run_echo(validator, validator.pop(0)[0])])
    seal = state.epochs.close_due(force=True)
    assert seal is not None and seal.epoch == 0
    assert view(env, str(job["id"]))["payment"] == "paid"
    shares = state.jobs.registry.emission_shares()  # the only worker: all of its offering's part
    emission = split(state.settings.epoch_emission, shares)["echo-image@fp32"]
    assert env.reads.ledger.balance(accounts.user(owner.id)) == pending + emission
    assert balance(env)["epoch"] == 1


@pytest.mark.parametrize("settings_overrides", [{"max_active_jobs": 2}])
def test_active_job_cap_answers_429_with_retry_after(env: Env) -> None:
    env.submit(env.image())
    env.submit(env.image())
    response = env.http.post("/api/v1/jobs", json=env.image(), headers=env.auth)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert balance(env)["reserved"] == 2 * price_of(env, env.image())


def test_anonymous_key_has_tight_limits(env: Env) -> None:
    state = env.http.app.state
    assert env.http.post("/api/v1/jobs", json=env.image(), headers=ANON).status_code == 402
    state.credits.grant("anonymous", ALICE_CREDITS)
    limit = state.settings.anonymous_max_active_jobs
    for _ in range(limit):
        assert env.http.post("/api/v1/jobs", json=env.image(), headers=ANON).status_code == 202
    assert env.http.post("/api/v1/jobs", json=env.image(), headers=ANON).status_code == 429
    state.settings.anonymous_key = None
    assert env.http.post("/api/v1/jobs", json=env.image(), headers=ANON).status_code == 401


# an aging rate whose starvation bound is well under a minute (signatures stay fresh)
@pytest.mark.parametrize("settings_overrides", [{"aging_points_per_s": 100_000}])
def test_aging_lets_an_old_anonymous_job_overtake_richer_newcomers(env: Env) -> None:
    state = env.http.app.state
    state.credits.grant("anonymous", ALICE_CREDITS)
    worker = env.worker()
    worker.register("w", MODELS, 1024 * 1024, 4)
    old = env.http.post("/api/v1/jobs", json=env.image(), headers=ANON).json()
    env.clock.advance(0.01)
    rich = env.submit(env.image())
    assert [a["job_id"] for a in worker.pop(0, 1)] == [rich["id"]]  # balance ranks first
    bound_s = PriorityPolicy(points_per_s=state.settings.aging_points_per_s).starvation_bound_ms()
    env.clock.advance(bound_s / 1000)
    newer = env.submit(env.image())
    assert view(env, str(newer["id"]))["queue_position"] == 1
    assert [a["job_id"] for a in worker.pop(0, 1)] == [old["id"]]


def test_transfer_and_its_failures(env: Env) -> None:
    bob = env.new_key("bob")
    sent = env.http.post(
        "/api/v1/credits/transfer", json={"to": "bob", "amount": 700}, headers=env.auth
    )
    assert sent.status_code == 200 and sent.json()["kind"] == "transfer"
    assert balance(env, bob)["balance"] == 700
    too_much = {"to": "alice", "amount": 701}
    poor = env.http.post(
        "/api/v1/credits/transfer", json=too_much, headers={"Authorization": f"Bearer {bob}"}
    )
    assert (poor.status_code, poor.json()["error"]["shortfall"]) == (402, 1)
    nobody = env.http.post(
        "/api/v1/credits/transfer", json={"to": "zed", "amount": 1}, headers=env.auth
    )
    assert nobody.status_code == 422
    self_pay = env.http.post(
        "/api/v1/credits/transfer", json={"to": "alice", "amount": 1}, headers=env.auth
    )
    assert self_pay.status_code == 422
    negative = env.http.post(
        "/api/v1/credits/transfer", json={"to": "bob", "amount": -5}, headers=env.auth
    )
    assert negative.status_code == 422


def test_only_admins_grant(env: Env) -> None:
    body = {"user": "alice", "amount": 5}
    assert env.http.post("/api/v1/credits/grant", json=body, headers=env.auth).status_code == 403
    from swarmgen.coordinator.admin import create_key

    admin = create_key(env.store, env.clock, "root", "admin").key
    granted = env.http.post(
        "/api/v1/credits/grant", json=body, headers={"Authorization": f"Bearer {admin}"}
    )
    assert granted.status_code == 200
    assert balance(env)["balance"] == ALICE_CREDITS + 5


def test_entries_page_newest_first(env: Env) -> None:
    for _ in range(3):
        env.submit(env.text())
    first = env.http.get("/api/v1/credits/entries?limit=2", headers=env.auth).json()
    assert len(first["entries"]) == 2
    rest = env.http.get(
        f"/api/v1/credits/entries?limit=2&before={first['next_before']}", headers=env.auth
    ).json()
    seqs = [e["seq"] for e in first["entries"] + rest["entries"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 4
    assert rest["next_before"] is None
    assert env.http.get("/api/v1/credits/entries?limit=0", headers=env.auth).status_code == 422


def test_a_coordinator_started_with_another_aging_places_queued_jobs_again(env: Env) -> None:
    """Queued at 100 points/s, an anonymous job 10 s older is still behind a keyed one;
    at 100,000 points/s its 10 s outweigh any balance, once the coordinator restarts."""
    env.http.app.state.credits.grant("anonymous", ALICE_CREDITS)
    old = env.http.post("/api/v1/jobs", json=env.image(), headers=ANON).json()
    env.clock.advance(10)
    rich = env.submit(env.image())
    with env.store.transaction() as tx:
        assert tx.dispatch.queue_position(tx.jobs.get(str(old["id"]))) == 1
    settings = env.http.app.state.settings.model_copy(update={"aging_points_per_s": 100_000})
    create_app(settings, store=env.store, clock=env.clock)  # a restart: services built again
    with env.store.transaction() as tx:
        assert tx.dispatch.queue_position(tx.jobs.get(str(old["id"]))) == 0
        assert tx.dispatch.queue_position(tx.jobs.get(str(rich["id"]))) == 1
