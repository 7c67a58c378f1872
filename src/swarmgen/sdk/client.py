"""Requester clients: submit jobs, wait for them, fetch results.

>>> with Client("http://127.0.0.1:8787", api_key) as sg:
...     job = sg.submit_image("a small red circle on a white background", model="shapes-64@fp32")
...     png = sg.wait_result(job["id"])

Every endpoint is described once in :class:`~swarmgen.sdk.base.Requests`; the two
clients here only send: :class:`Client` blocking, :class:`AsyncClient` awaiting.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from swarmgen.sdk.base import (
    Call,
    Requests,
    SwarmgenAPIError,
    check_response,
    finished,
    image_job,
    next_wait,
    text_job,
)

__all__ = [
    "AsyncClient",
    "Client",
    "SwarmgenAPIError",
    "check_response",
    "image_job",
    "text_job",
]


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def _not_completed(view: dict[str, Any]) -> SwarmgenAPIError:
    return SwarmgenAPIError(409, {"error": {"code": view["state"], "message": str(view)}})


class Client(Requests):
    """A synchronous requester client (``transport``: e.g. an in-process ASGI app)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = 90.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url, headers=_headers(api_key), timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call[Any]) -> Any:
        attempt = 0
        while True:
            outcome: httpx.Response | Exception
            try:
                outcome = self._http.send(
                    call.request(self._http), follow_redirects=call.follow_redirects
                )
            except httpx.TransportError as exc:
                outcome = exc
            delay = call.resend_after(attempt, outcome)
            if delay is None:
                if isinstance(outcome, Exception):
                    raise outcome
                return call.read(outcome)
            attempt += 1
            time.sleep(delay)

    def wait(self, job_id: str, timeout: float = 600) -> dict[str, Any]:
        """Long-poll until the job is final or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            view = self.status(job_id, wait=next_wait(left))
            if finished(view, left):
                return view

    def wait_result(self, job_id: str, index: int = 0, timeout: float = 600) -> bytes:
        view = self.wait(job_id, timeout)
        if view["state"] != "completed":
            raise _not_completed(view)
        return self.result(job_id, index)


class AsyncClient(Requests):
    """The asynchronous twin of :class:`Client`: the same methods, awaited."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = 90.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=_headers(api_key), timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call[Any]) -> Any:
        attempt = 0
        while True:
            outcome: httpx.Response | Exception
            try:
                outcome = await self._http.send(
                    call.request(self._http), follow_redirects=call.follow_redirects
                )
            except httpx.TransportError as exc:
                outcome = exc
            delay = call.resend_after(attempt, outcome)
            if delay is None:
                if isinstance(outcome, Exception):
                    raise outcome
                return call.read(outcome)
            attempt += 1
            await asyncio.sleep(delay)

    async def wait(self, job_id: str, timeout: float = 600) -> dict[str, Any]:
        """Long-poll until the job is final or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            view = await self.status(job_id, wait=next_wait(left))
            if finished(view, left):
                return view

    async def wait_result(self, job_id: str, index: int = 0, timeout: float = 600) -> bytes:
        view = await self.wait(job_id, timeout)
        if view["state"] != "completed":
            raise _not_completed(view)
        return await self.result(job_id, index)
