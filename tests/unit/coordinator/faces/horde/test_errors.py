"""The Horde face's error shape: ``{"message", "rc"}``, validation as 400 with ``errors``."""

from __future__ import annotations

import json

from swarmgen.coordinator.faces.horde.errors import error_response, rc_of, routing
from swarmgen.errors import (
    FieldProblem,
    InsufficientCredits,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UnknownModel,
)


def answer(response: object) -> tuple[int, dict[str, object]]:
    return response.status_code, json.loads(response.body)  # type: ignore[attr-defined]


def test_service_errors_keep_their_status_in_horde_shape() -> None:
    assert answer(error_response(Unauthorized("no"))) == (
        401,
        {"message": "no", "rc": "InvalidAPIKey"},
    )
    assert answer(error_response(InsufficientCredits("poor")))[1]["rc"] == "KudosUpfront"
    assert answer(error_response(NotFound("gone")))[0] == 404
    assert answer(error_response(PayloadTooLarge("big")))[1]["rc"] == "PayloadTooLarge"
    limited = error_response(RateLimited("busy", retry_after=7))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"


def test_validation_is_400_with_each_field() -> None:
    status, body = answer(error_response(InvalidRequest([FieldProblem("params.n", "too many")])))
    assert status == 400 and body["errors"] == {"params.n": "too many"}
    status, body = answer(error_response(UnknownModel(FieldProblem("models", "none"))))
    assert (status, body["rc"]) == (400, "UnsupportedModel")


def test_return_codes_and_routing_errors() -> None:
    assert rc_of("stake_required") == "StakeRequired"
    assert answer(routing("GET", "/api/v2/x", 404, "Not Found")) == (
        404,
        {"message": "GET /api/v2/x: Not Found", "rc": "NotFound"},
    )
    assert answer(routing("PUT", "/api/v2/x", 405, "Method Not Allowed"))[1]["rc"] == (
        "MethodNotAllowed"
    )
