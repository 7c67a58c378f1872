"""Requests that match no face's route answer in the project's error shape."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from swarmgen.coordinator.faces import fallback


def test_unknown_paths_and_methods_get_stable_codes() -> None:
    app = FastAPI()
    fallback.install(app)

    @app.get("/here")
    def here() -> dict[str, str]:
        return {"ok": "yes"}

    http = TestClient(app)
    missing = http.get("/there")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = http.post("/here")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET"


def test_a_face_shapes_routing_errors_under_its_own_prefix_only() -> None:
    app = FastAPI()

    def shaped(method: str, path: str, status: int, detail: str) -> JSONResponse:
        return JSONResponse({"face": path, "status": status}, status_code=status)

    fallback.install(app, {"/v1": shaped})
    http = TestClient(app)
    assert http.get("/v1/nothing").json() == {"face": "/v1/nothing", "status": 404}
    assert http.get("/v1").json()["face"] == "/v1"
    # a prefix is a path segment, not a string prefix
    assert http.get("/v1x").json()["error"]["code"] == "not_found"
    assert http.get("/api/v1/nothing").json()["error"]["code"] == "not_found"
