"""The native face's error mapping: :class:`SwarmgenError` to ``{"error": {...}}``.

Body: ``{"error": {"code": ..., "message": ..., "fields": [{"field", "reason", "limit"}]}}``
(:class:`swarmgen.protocol.ErrorOut`). Only the native face's routes answer in this
shape (see :mod:`.routing`); another face maps the same errors to its own.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from swarmgen.errors import FieldProblem, InvalidRequest, RateLimited, SwarmgenError

_LIMIT_KEYS = ("le", "lt", "ge", "gt", "max_length", "min_length", "expected", "pattern")


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "image", "text")]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or "body"


def problems_from(errors: list[Any]) -> list[FieldProblem]:
    """Pydantic errors as field problems, carrying the violated bound as ``limit``."""
    problems = []
    for error in errors:
        ctx = error.get("ctx") or {}
        limit = next((ctx[k] for k in _LIMIT_KEYS if k in ctx), None)
        if error.get("type") == "json_invalid":
            problems.append(FieldProblem("body", "malformed JSON"))
            continue
        reason = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(FieldProblem(_field(tuple(error.get("loc", ()))), reason, limit))
    return problems


def invalid_from(exc: ValidationError | RequestValidationError) -> InvalidRequest:
    return InvalidRequest(problems_from(list(exc.errors())))


def error_response(exc: SwarmgenError) -> JSONResponse:
    headers = {}
    if isinstance(exc, RateLimited) and "retry_after" in exc.details:
        headers["Retry-After"] = str(exc.details["retry_after"])
    return JSONResponse({"error": exc.as_dict()}, status_code=exc.status, headers=headers)


def internal_response() -> JSONResponse:
    """What a bug looks like from outside: a stable code, no traceback."""
    return JSONResponse({"error": {"code": "internal", "message": "internal error"}}, 500)
