"""The native face's edges: anonymous limits, 64-bit bounds, routing errors, OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.coordinator.conftest import ALICE_CREDITS, Env

from swarmgen.coordinator.admin import create_key
from swarmgen.coordinator.credits import MAX_SUPPLY
from swarmgen.protocol import INT64_MAX
from swarmgen.protocol.bounds import SAFE_INT
from swarmgen.sdk.client import SwarmgenAPIError

ANON = {"Authorization": "Bearer 0000000000"}
TOO_BIG = INT64_MAX + 1


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def test_anonymous_key_cannot_move_the_shared_credits(env: Env) -> None:
    env.http.app.state.credits.grant("anonymous", ALICE_CREDITS)
    env.new_key("bob")
    body = {"to": "bob", "amount": 1}
    refused = env.http.post("/api/v1/credits/transfer", json=body, headers=ANON)
    assert error_of(refused, 403)["code"] == "anonymous_forbidden"
    assert env.http.get("/api/v1/credits/balance", headers=ANON).json()["balance"] == ALICE_CREDITS
    entries = env.http.get("/api/v1/credits/entries", headers=ANON)
    assert error_of(entries, 403)["code"] == "anonymous_forbidden"


def test_anonymous_jobs_are_reachable_by_id_only(env: Env) -> None:
    env.http.app.state.credits.grant("anonymous", ALICE_CREDITS)
    mine = env.http.post("/api/v1/jobs", json=env.image(), headers=ANON).json()
    listed = env.http.get("/api/v1/jobs", headers=ANON)
    assert error_of(listed, 403)["code"] == "anonymous_forbidden"
    cancel = env.http.post(f"/api/v1/jobs/{mine['id']}/cancel", headers=ANON)
    assert error_of(cancel, 403)["code"] == "anonymous_forbidden"
    status = env.http.get(f"/api/v1/jobs/{mine['id']}", headers=ANON).json()
    assert status["state"] == "queued"  # untouched, and still readable by its id


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/api/v1/jobs?updated_since={TOO_BIG}", "updated_since"),
        (f"/api/v1/jobs?changed_after={TOO_BIG}", "changed_after"),
        (f"/api/v1/credits/entries?before={TOO_BIG}", "before"),
    ],
)
def test_query_integers_past_64_bits_are_refused(env: Env, path: str, field: str) -> None:
    problem = error_of(env.http.get(path, headers=env.auth), 422)["fields"][0]
    assert problem["field"] == field
    assert problem["limit"] == INT64_MAX


def test_grants_stop_at_the_supply_bound(env: Env) -> None:
    admin = {"Authorization": f"Bearer {create_key(env.store, env.clock, 'root', 'admin').key}"}
    left = MAX_SUPPLY - ALICE_CREDITS
    step = 2**62  # the most one grant may mint
    while left > step:
        grant = {"user": "alice", "amount": step}
        assert env.http.post("/api/v1/credits/grant", json=grant, headers=admin).status_code == 200
        left -= step
    over = {"user": "alice", "amount": left + 1}
    response = env.http.post("/api/v1/credits/grant", json=over, headers=admin)
    problem = error_of(response, 422)["fields"][0]
    assert problem == {"field": "amount", "reason": "would mint past the supply bound",
                       "limit": MAX_SUPPLY}  # fmt: skip
    exact = {"user": "alice", "amount": left}
    assert env.http.post("/api/v1/credits/grant", json=exact, headers=admin).status_code == 200
    balance = env.http.get("/api/v1/credits/balance", headers=env.auth).json()["balance"]
    assert balance == MAX_SUPPLY


@pytest.mark.parametrize(
    "body",
    [
        {"to": "bob", "amount": TOO_BIG},
        {"to": "bob", "amount": 2**64},
    ],
)
def test_body_integers_past_their_bound_are_refused(env: Env, body: dict[str, Any]) -> None:
    env.new_key("bob")
    response = env.http.post("/api/v1/credits/transfer", json=body, headers=env.auth)
    problem = error_of(response, 422)["fields"][0]
    assert problem["field"] == "amount"
    assert problem["limit"] == 2**62


def test_unknown_routes_and_methods_answer_in_the_error_shape(env: Env) -> None:
    missing = error_of(env.http.get("/api/v1/nope"), 404)
    assert missing["code"] == "not_found"
    assert error_of(env.http.get("/nowhere"), 404)["code"] == "not_found"
    wrong = env.http.delete("/api/v1/jobs", headers=env.auth)
    assert error_of(wrong, 405)["code"] == "method_not_allowed"
    assert "detail" not in wrong.json()


def test_worker_routes_take_larger_bodies_than_requester_routes(env: Env) -> None:
    settings = env.http.app.state.settings
    size = settings.max_body_bytes + 1
    assert size <= settings.max_worker_body_bytes
    padded = b"{" + b" " * (size - 2) + b"}"
    headers = {**env.auth, "Content-Type": "application/json"}
    requester = env.http.post("/api/v1/jobs", content=padded, headers=headers)
    assert error_of(requester, 413)["fields"][0]["limit"] == settings.max_body_bytes
    worker = env.http.post("/api/v1/workers/pop", content=padded, headers=headers)
    assert worker.status_code == 401  # read in full, then refused for want of a signature


def test_openapi_lists_every_error_status_with_the_error_schema(env: Env) -> None:
    document = env.http.get("/openapi.json").json()
    paths = document["paths"]
    error_ref = "#/components/schemas/ErrorOut"
    for path, operations in paths.items():
        if not path.startswith("/api/v1"):
            continue
        for method, operation in operations.items():
            codes = operation["responses"]
            for status in ("413", "422"):
                assert status in codes, (method, path, status)
            for status, answer in codes.items():
                if status.startswith(("4", "5")):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": error_ref}, (method, path, status)
    jobs = paths["/api/v1/jobs"]
    assert {"401", "402", "409", "429", "503"} <= set(jobs["post"]["responses"])
    assert {"401", "403"} <= set(jobs["get"]["responses"])
    assert {"404", "409"} <= set(paths["/api/v1/jobs/{job_id}/cancel"]["post"]["responses"])
    assert {"401", "403", "409", "503"} <= set(paths["/api/v1/workers/pop"]["post"]["responses"])
    export = paths["/api/v1/ledger/export"]["get"]["responses"]["200"]["content"]
    assert list(export) == ["application/x-ndjson"]
    result = paths["/api/v1/jobs/{job_id}/result"]["get"]["responses"]["200"]["content"]
    assert {"image/png", "text/plain", "application/json"} <= set(result)
    bounds = {p["name"]: p["schema"] for p in jobs["get"]["parameters"]}
    assert bounds["updated_since"]["anyOf"][0]["maximum"] == INT64_MAX
    assert bounds["changed_after"]["anyOf"][0]["maximum"] == INT64_MAX


def test_the_worker_client_speaks_stake_through_the_protocol(env: Env) -> None:
    worker = env.worker()
    worker.owner_key = env.key
    worker.register("w1", ["echo-image@fp32"], 4096, 1)
    assert worker.lock_stake(600)["locked"] == 600
    assert worker.unlock_stake(250)["unbonding"] == 250
    assert worker.stake()["locked"] == 350
    with pytest.raises(SwarmgenAPIError) as early:
        worker.withdraw_stake()  # the unlock delay has not passed
    assert early.value.status == 409


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/jobs", {"kind": "image", "model": "echo-image@fp32", "prompt": "a\x00b"}),
        ("post", "/api/v1/credits/transfer", {"to": "b\x00b", "amount": 1}),
        ("get", "/api/v1/jobs/a%00b", None),
        ("get", "/api/v1/ledger/proofs/a%00b", None),
    ],
)
def test_nul_characters_are_refused_before_the_database(
    env: Env, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """PostgreSQL text cannot hold NUL: such input is a 422, never a 500."""
    response = env.http.request(method, path, json=body, headers=env.auth)
    assert error_of(response, 422)["code"] == "invalid_request"


def test_openapi_documents_the_signed_bodies_inline(env: Env) -> None:
    paths = env.http.get("/openapi.json").json()["paths"]
    body = paths["/api/v1/workers/submit"]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    assert "$ref" not in str(schema)  # nested models are inlined: nothing dangles
    receipt = schema["properties"]["results"]["items"]["properties"]["receipt"]
    assert receipt["properties"]["timings"]["additionalProperties"]["maximum"] == SAFE_INT
    assert "requestBody" in paths["/api/v1/workers/stake/lock"]["post"]
