"""The worker's HTTP client: every request signed with the worker's Ed25519 key.

Bodies are protocol models (:mod:`swarmgen.protocol.workers`), serialised once; the
signature covers exactly the bytes sent. Answers are checked against their models.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from pydantic import BaseModel

from swarmgen.core.signing import KeyPair, sign_request
from swarmgen.protocol import (
    Ack,
    CapabilitiesIn,
    EmptyIn,
    HeartbeatIn,
    PopIn,
    PopOut,
    RegisterIn,
    RegisterOut,
    ReleaseIn,
    ResultIn,
    StakeIn,
    StakeOut,
    SubmitOut,
    paths,
)
from swarmgen.sdk.base import check_response

ERROR_CHARS = 500
"""The longest release reason the coordinator takes (``ReleaseIn.error``)."""


def _dump(body: BaseModel | Mapping[str, Any]) -> Any:
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", exclude_unset=True, warnings=False)
    return body


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

    def call(
        self,
        path: str,
        body: BaseModel | Mapping[str, Any],
        answer: type[BaseModel] | None = None,
    ) -> Any:
        """POST ``body`` to ``path`` signed; returns the decoded JSON answer (checked
        against ``answer`` when given)."""
        data = json.dumps(_dump(body), separators=(",", ":")).encode("utf-8")
        headers = sign_request(self.keys, "POST", path, data, int(time.time()))
        headers["Content-Type"] = "application/json"
        if self.owner_key and path.endswith("/register"):
            headers["Authorization"] = f"Bearer {self.owner_key}"
        decoded = check_response(self._http.post(path, content=data, headers=headers)).json()
        if answer is not None:
            answer.model_validate(decoded)
        return decoded

    def register(
        self,
        name: str,
        models: list[str],
        max_pixels: int,
        max_batch: int,
        memory: int | None = None,
    ) -> Any:
        """Register this key for ``models``; ``memory`` (bytes) declares what it can hold."""
        caps = CapabilitiesIn.model_construct(
            models=models, max_pixels=max_pixels, max_batch=max_batch, memory=memory
        )
        body = RegisterIn.model_construct(name=name, capabilities=caps)
        return self.call(f"{paths.WORKERS}/register", body, RegisterOut)

    def pop(self, wait_s: float, max_jobs: int | None = None) -> list[dict[str, Any]]:
        """Assignments as JSON objects (see :class:`~swarmgen.protocol.Assignment`)."""
        body = PopIn.model_construct(wait_s=wait_s)
        if max_jobs:
            body = PopIn.model_construct(wait_s=wait_s, max_jobs=max_jobs)
        jobs: list[dict[str, Any]] = self.call(f"{paths.WORKERS}/pop", body, PopOut)["jobs"]
        return jobs

    def submit(self, results: Sequence[ResultIn | Mapping[str, Any]]) -> Any:
        body = {"results": [_dump(result) for result in results]}
        return self.call(f"{paths.WORKERS}/submit", body, SubmitOut)

    def heartbeat(self, job_ids: list[str]) -> Any:
        return self.call(
            f"{paths.WORKERS}/heartbeat", HeartbeatIn.model_construct(job_ids=job_ids), Ack
        )

    def release(self, job_ids: list[str], error: str | None = None) -> Any:
        body = ReleaseIn.model_construct(job_ids=job_ids)
        if error is not None:
            body = ReleaseIn.model_construct(job_ids=job_ids, error=error[:ERROR_CHARS])
        return self.call(f"{paths.WORKERS}/release", body, Ack)

    def stake(self) -> Any:
        """This worker's locked and unbonding stake."""
        return self.call(paths.STAKE, EmptyIn(), StakeOut)

    def lock_stake(self, amount: int) -> Any:
        """Lock ``amount`` of the owner's micro-credits behind this worker."""
        return self.call(f"{paths.STAKE}/lock", StakeIn.model_construct(amount=amount), StakeOut)

    def unlock_stake(self, amount: int) -> Any:
        """Start unbonding ``amount``; it may be withdrawn after the unlock delay."""
        return self.call(f"{paths.STAKE}/unlock", StakeIn.model_construct(amount=amount), StakeOut)

    def withdraw_stake(self) -> Any:
        """Return unbonded stake whose delay has passed to the owner."""
        return self.call(f"{paths.STAKE}/withdraw", EmptyIn(), StakeOut)
