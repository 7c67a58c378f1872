"""The native route class: errors in the native shape and body limits, on its routes only."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from swarmgen.coordinator.faces.native.routing import native_route
from swarmgen.errors import Conflict, RateLimited


class Body(BaseModel):
    size: int = Field(ge=0, le=10)


def make_app() -> FastAPI:
    app = FastAPI()
    native = APIRouter(prefix="/native", route_class=native_route(32))
    other = APIRouter(prefix="/other")

    @native.post("/echo")
    def echo(body: Body) -> Body:
        return body

    @native.get("/conflict")
    def conflict() -> None:
        raise Conflict("busy", job_id="j")

    @native.get("/limited")
    def limited() -> None:
        raise RateLimited("slow down", retry_after=3)

    @native.get("/bug")
    def bug() -> None:
        raise RuntimeError("boom")

    @other.post("/echo")
    def other_echo(body: Body) -> Body:
        return body

    app.include_router(native)
    app.include_router(other)
    return app


def test_errors_answer_in_the_native_shape() -> None:
    http = TestClient(make_app(), raise_server_exceptions=False)
    conflict = http.get("/native/conflict")
    assert conflict.status_code == 409
    assert conflict.json() == {"error": {"code": "conflict", "message": "busy", "job_id": "j"}}
    limited = http.get("/native/limited")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    invalid = http.post("/native/echo", json={"size": 11})
    assert invalid.status_code == 422
    assert invalid.json()["error"]["fields"] == [
        {"field": "size", "reason": "Input should be less than or equal to 10", "limit": 10}
    ]
    bug = http.get("/native/bug")
    assert bug.status_code == 500
    assert bug.json() == {"error": {"code": "internal", "message": "internal error"}}


def test_other_routes_keep_their_own_shape() -> None:
    http = TestClient(make_app())
    assert "detail" in http.post("/other/echo", json={"size": 11}).json()
    big = b'{"size": 1' + b" " * 64 + b"}"
    headers = {"Content-Type": "application/json"}
    assert http.post("/other/echo", content=big, headers=headers).status_code == 200


def test_bodies_past_the_limit_are_refused_declared_or_chunked() -> None:
    http = TestClient(make_app())
    headers = {"Content-Type": "application/json"}
    assert http.post("/native/echo", json={"size": 1}).json() == {"size": 1}
    declared = http.post("/native/echo", content=b'{"size": 1' + b" " * 64 + b"}", headers=headers)
    assert declared.status_code == 413
    assert declared.json()["error"]["fields"] == [
        {"field": "body", "reason": "too large", "limit": 32}
    ]

    def chunks() -> Iterator[bytes]:
        yield b'{"size": 1'
        yield b" " * 64
        yield b"}"

    assert http.post("/native/echo", content=chunks(), headers=headers).status_code == 413


def test_a_body_that_is_not_text_is_malformed_json() -> None:
    http = TestClient(make_app())
    headers = {"Content-Type": "application/json"}
    response = http.post("/native/echo", content=b"\xf6\x03C", headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == [{"field": "body", "reason": "malformed JSON"}]
