"""Answers for requests no face's route matches: unknown paths (404), wrong methods (405).

Starlette raises these before any face's code runs, so no face's route class can shape
them. A face that owns a path prefix (``/v1`` for the OpenAI face) registers how it
answers them; every other path gets the project's error shape
(``{"error": {"code", "message"}}``) instead of Starlette's ``{"detail": ...}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

CODES = {404: "not_found", 405: "method_not_allowed"}
"""Stable codes for the statuses the router itself raises."""

Shaper = Callable[[str, str, int, str], JSONResponse]
"""``(method, path, status, detail)`` -> a face's answer to a routing error."""


def _native(method: str, path: str, status: int, detail: str) -> JSONResponse:
    body = {
        "error": {"code": CODES.get(status, "http_error"), "message": f"{method} {path}: {detail}"}
    }
    return JSONResponse(body, status_code=status)


def _owner(path: str, faces: Mapping[str, Shaper]) -> Shaper:
    for prefix, shaper in faces.items():
        if path == prefix or path.startswith(prefix + "/"):
            return shaper
    return _native


def install(app: FastAPI, faces: Mapping[str, Shaper] | None = None) -> None:
    """Answer routing errors (no route, wrong method) in the shape of the face whose
    prefix the path is under (``faces``: prefix -> shaper), else the project's."""
    owners = dict(faces or {})

    @app.exception_handler(HTTPException)
    async def _routing(request: Request, exc: HTTPException) -> JSONResponse:
        shape = _owner(request.url.path, owners)
        answer = shape(request.method, request.url.path, exc.status_code, str(exc.detail))
        if exc.headers:
            answer.headers.update(exc.headers)
        return answer
