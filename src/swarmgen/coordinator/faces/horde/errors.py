"""The Horde face's errors: ``{"message", "rc"}``, as AI Horde answers them.

``rc`` is a stable return code in AI Horde's style (PascalCase): Horde's own name where
one exists (``InvalidAPIKey``, ``RequestNotFound``, ``KudosUpfront``,
``UnsupportedModel``: members of ``horde_sdk``'s ``RC``), else swarmgen's error code
written the same way (``BadRequest``, ``PayloadTooLarge``...; ``horde_sdk`` logs that
it does not know them). A request that fails validation is a 400 (Horde's status for
it, where swarmgen's native face answers 422) and also carries ``errors``, each
offending field with its reason, as Horde's validation answers do (``horde_sdk`` raises
``AIHordePayloadValidationError`` for them).
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from swarmgen.coordinator.faces.native.errors import problems_from
from swarmgen.errors import FieldProblem, InvalidRequest, RateLimited, SwarmgenError

RC = {
    "unauthorized": "InvalidAPIKey",
    "not_found": "RequestNotFound",
    "insufficient_credits": "KudosUpfront",
    "rate_limited": "TooManyPrompts",
    "unknown_model": "UnsupportedModel",
    "invalid_request": "BadRequest",
    "anonymous_forbidden": "AnonForbidden",
}
"""swarmgen's codes whose Horde return code has a name of its own."""


def rc_of(code: str) -> str:
    return RC.get(code) or "".join(part.capitalize() for part in code.split("_"))


def body(message: str, rc: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "rc": rc, **extra}


def _problems(problems: list[FieldProblem]) -> dict[str, str]:
    return {p.field: p.reason for p in problems}


def error_response(exc: SwarmgenError) -> JSONResponse:
    """A :class:`SwarmgenError` in Horde's shape; validation errors are 400s."""
    status = 400 if isinstance(exc, InvalidRequest) else exc.status
    extra: dict[str, Any] = {}
    if isinstance(exc, InvalidRequest):
        extra["errors"] = _problems(exc.problems)
    headers = {}
    if isinstance(exc, RateLimited) and "retry_after" in exc.details:
        headers["Retry-After"] = str(exc.details["retry_after"])
    return JSONResponse(body(exc.message, rc_of(exc.code), **extra), status, headers=headers)


def invalid(exc: ValidationError | RequestValidationError) -> JSONResponse:
    """A request the face cannot read: 400, each field and its reason under ``errors``."""
    problems = problems_from(list(exc.errors()))
    message = "; ".join(f"{p.field}: {p.reason}" for p in problems) or "invalid request"
    return JSONResponse(body(message, "BadRequest", errors=_problems(problems)), 400)


def routing(method: str, path: str, status: int, detail: str) -> JSONResponse:
    """An unknown ``/api/v2`` path (404) or method (405)."""
    rc = "NotFound" if status == 404 else "MethodNotAllowed"
    return JSONResponse(body(f"{method} {path}: {detail}", rc), status)


def internal() -> JSONResponse:
    """What a bug looks like from outside: a stable code, no traceback."""
    return JSONResponse(body("internal error", "InternalServerError"), 500)


class HordeErrorOut(BaseModel):
    """AI Horde's error body (``errors`` on a validation failure)."""

    message: str
    rc: str
    errors: dict[str, str] | None = None


WHY = {
    400: "The request could not be read or broke a bound; ``errors`` names each field.",
    401: "Missing, unknown or revoked API key (``apikey`` header).",
    402: "The balance does not cover the job's price.",
    403: "Not allowed with this key (the anonymous key cannot cancel).",
    404: "No such request (or model offering).",
    409: "The request is not in a state that allows this.",
    413: "The request body exceeds the limit.",
    429: "Too many active jobs; retry after ``Retry-After`` seconds.",
}


OTHER = "Any other client error (the face never answers FastAPI's 422 ``detail``)."


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``statuses``, each with Horde's error schema, and a
    ``4XX`` in that schema too, which keeps FastAPI from documenting its own 422."""
    answers: dict[int | str, dict[str, Any]] = {
        "4XX": {"model": HordeErrorOut, "description": OTHER}
    }
    return answers | {s: {"model": HordeErrorOut, "description": WHY[s]} for s in statuses}


SUBMIT: dict[int | str, dict[str, Any]] = {
    200: {"description": "A dry run: ``{kudos}``, the price, nothing queued."},
    **documented(400, 401, 402, 404, 413, 429),
}
"""What a route that queues a job can answer (202 with the request's id)."""
FOLLOW = documented(400, 404)
"""What a route that follows a request by its id can answer."""
