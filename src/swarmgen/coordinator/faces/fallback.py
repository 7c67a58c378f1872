"""Answers for requests no face's route matches: unknown paths (404), wrong methods (405).

Starlette raises these before any face's code runs, so no face can shape them; they get
the project's error shape (``{"error": {"code", "message"}}``) instead of Starlette's
``{"detail": ...}``. Every other error is answered by the face whose route raised it.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

CODES = {404: "not_found", 405: "method_not_allowed"}
"""Stable codes for the statuses the router itself raises."""


def install(app: FastAPI) -> None:
    """Answer routing errors (no route, wrong method) in the project's error shape."""

    @app.exception_handler(HTTPException)
    async def _routing(request: Request, exc: HTTPException) -> JSONResponse:
        code = CODES.get(exc.status_code, "http_error")
        message = f"{request.method} {request.url.path}: {exc.detail}"
        body = {"error": {"code": code, "message": message}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
