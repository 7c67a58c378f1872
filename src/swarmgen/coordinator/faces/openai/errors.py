"""The OpenAI face's errors: ``{"error": {"message", "type", "param", "code"}}``.

Statuses are the ones the ``openai`` client maps to its exception classes: 400 for a
request it cannot read (``BadRequestError``), 401, 402, 403, 404 (also an unknown
model, as OpenAI answers), 409, 413, 422 for a job the network could not run, and 429
with ``Retry-After``. Nothing here answers 408, 409 or 5xx for a job that was queued:
the client retries those, and a retried submit would run (and charge) the job twice.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from swarmgen.coordinator.faces.native.errors import problems_from
from swarmgen.errors import RateLimited, SwarmgenError, UnknownModel

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def body(
    message: str, status: int, code: str, param: str | None = None, **extra: Any
) -> dict[str, Any]:
    error = {"message": message, "type": TYPES.get(status, "api_error"), "param": param}
    return {"error": {**error, "code": code}, **extra}


def error_response(exc: SwarmgenError, **extra: Any) -> JSONResponse:
    """A :class:`SwarmgenError` in OpenAI's shape; an unknown model is a 404, as OpenAI
    answers it; the first field problem names ``param``."""
    status = 404 if isinstance(exc, UnknownModel) else exc.status
    fields = exc.details.get("fields") or []
    param = fields[0]["field"] if fields else None
    message = exc.message
    code = "model_not_found" if isinstance(exc, UnknownModel) else exc.code
    if "job_id" in exc.details:
        extra = {"swarmgen": {"job_id": exc.details["job_id"]}, **extra}
    headers = {}
    if isinstance(exc, RateLimited) and "retry_after" in exc.details:
        headers["Retry-After"] = str(exc.details["retry_after"])
    return JSONResponse(body(message, status, code, param, **extra), status, headers=headers)


def invalid(exc: ValidationError | RequestValidationError) -> JSONResponse:
    """A request the face cannot read: 400, naming the first offending parameter."""
    problems = problems_from(list(exc.errors()))
    message = "; ".join(f"{p.field}: {p.reason}" for p in problems) or "invalid request"
    param = problems[0].field if problems else None
    return JSONResponse(body(message, 400, "invalid_request", param), 400)


def routing(method: str, path: str, status: int, detail: str) -> JSONResponse:
    """An unknown ``/v1`` path (404) or method (405), as OpenAI answers them."""
    code = "unknown_url" if status == 404 else "method_not_allowed"
    return JSONResponse(body(f"{method} {path}: {detail}", status, code), status)


def internal() -> JSONResponse:
    """What a bug looks like from outside: a stable code, no traceback."""
    return JSONResponse(body("internal error", 500, "internal"), 500)


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str


class OpenAIErrorOut(BaseModel):
    """OpenAI's error body (plus ``swarmgen.job_id`` when a job was queued)."""

    error: OpenAIErrorDetail
    swarmgen: dict[str, Any] | None = None


WHY = {
    400: "The request could not be read or broke a bound; ``param`` names the field.",
    401: "Missing, unknown or revoked API key.",
    402: "The balance does not cover the job's price.",
    403: "Not allowed (an image link whose signature does not match, or that expired).",
    404: "No such model offering or object.",
    409: "The job behind an image link is not completed.",
    413: "The request body exceeds the limit.",
    422: "The job does not fit the model, or it failed or did not finish in time.",
    429: "Too many active jobs; retry after ``Retry-After`` seconds.",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for ``statuses``, each with OpenAI's error schema."""
    return {s: {"model": OpenAIErrorOut, "description": WHY[s]} for s in statuses}


JOB = documented(400, 401, 402, 404, 413, 422, 429)
"""What a route that queues a job can answer."""
