"""The worker's HTTP client: every request signed with the worker's Ed25519 key."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from swarmgen.core.signing import KeyPair, sign_request
from swarmgen.sdk.client import check_response


class WorkerClient:
    def __init__(
        self,
        base_url: str,
        keys: KeyPair,
        *,
        owner_key: str | None = None,
        timeout: float = 90.0,  # longer than the longest pop long-poll (60 s)
        http: httpx.Client | None = None,
    ) -> None:
        """``http`` replaces the default client (tests pass an in-process ASGI client)."""
        self.keys = keys
        self.owner_key = owner_key
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def call(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` to ``path`` signed; returns the decoded JSON answer."""
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        headers = sign_request(self.keys, "POST", path, data, int(time.time()))
        headers["Content-Type"] = "application/json"
        if self.owner_key and path.endswith("/register"):
            headers["Authorization"] = f"Bearer {self.owner_key}"
        return check_response(self._http.post(path, content=data, headers=headers)).json()

    def register(self, name: str, models: list[str], max_pixels: int, max_batch: int) -> Any:
        caps = {"models": models, "max_pixels": max_pixels, "max_batch": max_batch}
        return self.call("/api/v1/workers/register", {"name": name, "capabilities": caps})

    def pop(self, wait_s: float, max_jobs: int | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"wait_s": wait_s}
        if max_jobs:
            body["max_jobs"] = max_jobs
        jobs: list[dict[str, Any]] = self.call("/api/v1/workers/pop", body)["jobs"]
        return jobs

    def submit(self, results: list[dict[str, Any]]) -> Any:
        return self.call("/api/v1/workers/submit", {"results": results})

    def heartbeat(self, job_ids: list[str]) -> Any:
        return self.call("/api/v1/workers/heartbeat", {"job_ids": job_ids})

    def release(self, job_ids: list[str], error: str | None = None) -> Any:
        body: dict[str, Any] = {"job_ids": job_ids}
        if error is not None:
            body["error"] = error[:500]
        return self.call("/api/v1/workers/release", body)
