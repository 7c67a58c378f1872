"""Request bodies read up to a limit, for every face's route class.

A face's route class reads the body through :func:`bounded` before its handler runs,
so an oversized body is a 413 in that face's own error shape.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from starlette.types import Message

from swarmgen.errors import FieldProblem, PayloadTooLarge

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"request body exceeds {limit} bytes",
        fields=[FieldProblem("body", "too large", limit).as_dict()],
    )


async def bounded(request: Request, limit: int) -> Request:
    """``request`` with its body read up to ``limit`` bytes (413 past it), ready to replay.

    A declared ``Content-Length`` over the limit is refused before reading; a chunked
    body is read only up to the limit. Once the body is replayed, the next message is
    the connection's own: ``http.disconnect`` when the client hangs up (a long-poll
    listens for it, :func:`~swarmgen.coordinator.faces.hangup.unless_hung_up`).
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await request.receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, replay)
