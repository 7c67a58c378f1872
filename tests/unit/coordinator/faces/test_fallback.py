"""Requests that match no face's route answer in the project's error shape."""

from __future__ import annotations

from fastapi import FastAPI
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
