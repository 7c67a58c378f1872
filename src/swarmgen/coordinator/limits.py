"""A pure-ASGI guard that refuses request bodies over a size limit with 413."""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]


class BodyLimit:
    """Rejects bodies larger than ``default`` bytes (``worker`` bytes under ``worker_prefix``).

    Checks ``Content-Length``; a chunked body is read up to the limit before the app runs.
    """

    def __init__(self, app: Any, default: int, worker: int, worker_prefix: str) -> None:
        self.app = app
        self.default = default
        self.worker = worker
        self.worker_prefix = worker_prefix

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.worker if scope["path"].startswith(self.worker_prefix) else self.default
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._refuse(send, limit)
                return
        chunked = any(n == b"transfer-encoding" for n, _ in scope.get("headers", ()))
        if not chunked:
            await self.app(scope, receive, send)
            return
        # A chunked body has no declared length: read it up to the limit, then replay it.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > limit:
                await self._refuse(send, limit)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Any, limit: int) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "payload_too_large",
                    "message": f"request body exceeds {limit} bytes",
                    "fields": [{"field": "body", "reason": "too large", "limit": limit}],
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
