"""Requester clients: submit jobs, wait for them, fetch results.

>>> with Client("http://127.0.0.1:8787", api_key) as sg:
...     job = sg.submit_image("a small red circle on a white background", model="shapes-64@fp32")
...     png = sg.wait_result(job["id"])
"""

from __future__ import annotations

import time
from typing import Any

import httpx


class SwarmgenAPIError(Exception):
    """The coordinator answered with an error: ``status``, stable ``code`` and details."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        self.status = status
        self.code = error.get("code", "http_error")
        self.details = error
        super().__init__(f"{status} {self.code}: {error.get('message', body)}")


def check_response(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        try:
            body = response.json()
        except ValueError:
            body = {"error": {"message": response.text}}
        raise SwarmgenAPIError(response.status_code, body)
    return response


def image_job(prompt: str, model: str, **settings: Any) -> dict[str, Any]:
    return {"kind": "image", "model": model, "prompt": prompt, **settings}


def text_job(
    model: str,
    *,
    prompt: str | None = None,
    messages: list[dict[str, str]] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "text", "model": model, **settings}
    if messages is not None:
        body["messages"] = messages
    else:
        body["prompt"] = prompt
    return body


def _list_params(state: str | None, limit: int, updated_since: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if state:
        params["state"] = state
    if updated_since is not None:
        params["updated_since"] = updated_since
    return params


class Client:
    """A synchronous requester client."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 90.0) -> None:
        self._http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit(self, job: dict[str, Any]) -> dict[str, Any]:
        """Queue a job (see :func:`image_job`, :func:`text_job`); returns id, position, price."""
        response = self._http.post("/api/v1/jobs", json=job)
        result: dict[str, Any] = check_response(response).json()
        return result

    def submit_image(self, prompt: str, model: str, **settings: Any) -> dict[str, Any]:
        return self.submit(image_job(prompt, model, **settings))

    def submit_text(self, model: str, **settings: Any) -> dict[str, Any]:
        return self.submit(text_job(model, **settings))

    def status(self, job_id: str, wait: float = 0) -> dict[str, Any]:
        response = self._http.get(f"/api/v1/jobs/{job_id}", params={"wait": wait})
        result: dict[str, Any] = check_response(response).json()
        return result

    def wait(self, job_id: str, timeout: float = 600) -> dict[str, Any]:
        """Long-poll until the job is final or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            view = self.status(job_id, wait=max(0.0, min(30.0, left)))
            if view["state"] in ("completed", "failed", "cancelled") or left <= 0:
                return view

    def result(self, job_id: str, index: int = 0, format: str = "raw") -> bytes:
        response = self._http.get(
            f"/api/v1/jobs/{job_id}/result", params={"index": index, "format": format}
        )
        return check_response(response).content

    def wait_result(self, job_id: str, index: int = 0, timeout: float = 600) -> bytes:
        view = self.wait(job_id, timeout)
        if view["state"] != "completed":
            raise SwarmgenAPIError(409, {"error": {"code": view["state"], "message": str(view)}})
        return self.result(job_id, index)

    def cancel(self, job_id: str) -> dict[str, Any]:
        response = self._http.post(f"/api/v1/jobs/{job_id}/cancel")
        result: dict[str, Any] = check_response(response).json()
        return result

    def quote(self, job: dict[str, Any]) -> dict[str, Any]:
        """What ``job`` would cost: price, work units, balance and shortfall (nothing queued)."""
        result: dict[str, Any] = check_response(
            self._http.post("/api/v1/jobs/quote", json=job)
        ).json()
        return result

    def balance(self) -> dict[str, Any]:
        """Your spendable and reserved micro-credits."""
        result: dict[str, Any] = check_response(self._http.get("/api/v1/credits/balance")).json()
        return result

    def entries(self, limit: int = 50, before: int | None = None) -> dict[str, Any]:
        """Your ledger entries, newest first; pass ``next_before`` back as ``before`` to page."""
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        response = self._http.get("/api/v1/credits/entries", params=params)
        result: dict[str, Any] = check_response(response).json()
        return result

    def jobs(
        self, state: str | None = None, limit: int = 50, updated_since: int | None = None
    ) -> list[dict[str, Any]]:
        """Your jobs, newest first; with ``updated_since`` (ms), those changed since then."""
        response = self._http.get("/api/v1/jobs", params=_list_params(state, limit, updated_since))
        jobs: list[dict[str, Any]] = check_response(response).json()["jobs"]
        return jobs

    def submit_many(self, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Queue up to 64 jobs at once, all or none."""
        response = self._http.post("/api/v1/jobs/batch", json={"jobs": jobs})
        accepted: list[dict[str, Any]] = check_response(response).json()["jobs"]
        return accepted


class AsyncClient:
    """The asynchronous twin of :class:`Client`."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 90.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def submit(self, job: dict[str, Any]) -> dict[str, Any]:
        response = await self._http.post("/api/v1/jobs", json=job)
        result: dict[str, Any] = check_response(response).json()
        return result

    async def submit_many(self, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = await self._http.post("/api/v1/jobs/batch", json={"jobs": jobs})
        accepted: list[dict[str, Any]] = check_response(response).json()["jobs"]
        return accepted

    async def jobs(
        self, state: str | None = None, limit: int = 50, updated_since: int | None = None
    ) -> list[dict[str, Any]]:
        params = _list_params(state, limit, updated_since)
        response = await self._http.get("/api/v1/jobs", params=params)
        jobs: list[dict[str, Any]] = check_response(response).json()["jobs"]
        return jobs

    async def status(self, job_id: str, wait: float = 0) -> dict[str, Any]:
        response = await self._http.get(f"/api/v1/jobs/{job_id}", params={"wait": wait})
        result: dict[str, Any] = check_response(response).json()
        return result

    async def wait(self, job_id: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            view = await self.status(job_id, wait=max(0.0, min(30.0, left)))
            if view["state"] in ("completed", "failed", "cancelled") or left <= 0:
                return view

    async def result(self, job_id: str, index: int = 0, format: str = "raw") -> bytes:
        response = await self._http.get(
            f"/api/v1/jobs/{job_id}/result", params={"index": index, "format": format}
        )
        return check_response(response).content

    async def cancel(self, job_id: str) -> dict[str, Any]:
        response = await self._http.post(f"/api/v1/jobs/{job_id}/cancel")
        result: dict[str, Any] = check_response(response).json()
        return result

    async def quote(self, job: dict[str, Any]) -> dict[str, Any]:
        response = await self._http.post("/api/v1/jobs/quote", json=job)
        result: dict[str, Any] = check_response(response).json()
        return result

    async def balance(self) -> dict[str, Any]:
        response = await self._http.get("/api/v1/credits/balance")
        result: dict[str, Any] = check_response(response).json()
        return result

    async def entries(self, limit: int = 50, before: int | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        response = await self._http.get("/api/v1/credits/entries", params=params)
        result: dict[str, Any] = check_response(response).json()
        return result
