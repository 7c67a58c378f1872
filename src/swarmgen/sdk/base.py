"""What the sync and async clients share: every request is described here once.

Like httpx's ``BaseClient``, :class:`Requests` builds each endpoint's request (method,
path, parameters, body from :mod:`swarmgen.protocol`, the model its answer must fit)
as a :class:`Call`. An :func:`endpoint` on it becomes a plain method on
:class:`~swarmgen.sdk.client.Client` and a coroutine method on
:class:`~swarmgen.sdk.client.AsyncClient`, which differ only in how they send a call.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import httpx
from pydantic import BaseModel

from swarmgen.protocol import (
    BalanceOut,
    EntriesOut,
    ImageJobIn,
    JobAccepted,
    JobBatchAccepted,
    JobBatchIn,
    JobList,
    JobView,
    MessageIn,
    QuoteOut,
    TextJobIn,
    paths,
)

if TYPE_CHECKING:
    from swarmgen.sdk.client import AsyncClient, Client

P = ParamSpec("P")
T = TypeVar("T")

FINAL_STATES = ("completed", "failed", "cancelled")
LONG_POLL_S = 30.0
"""The longest single wait a client asks for; ``wait`` repeats it up to its timeout."""
RETRY_DELAYS_S = (0.25, 0.5, 1.0, 2.0, 4.0)
"""Pauses before each resend of a submit whose answer was lost or was a 5xx."""


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


def _body(model: type[BaseModel], fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` as ``model`` serialises them, unvalidated: the server is the judge and
    answers a bad value with a 422 naming it; an unknown name is a mistake made here."""
    unknown = set(fields) - set(model.model_fields)
    if unknown:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    built = model.model_construct(**fields)
    return built.model_dump(mode="json", exclude_unset=True, warnings=False)


def image_job(prompt: str, model: str, **settings: Any) -> dict[str, Any]:
    """An image job's body (settings: see :class:`~swarmgen.protocol.ImageJobIn`)."""
    return _body(ImageJobIn, {"kind": "image", "model": model, "prompt": prompt, **settings})


def text_job(
    model: str,
    *,
    prompt: str | None = None,
    messages: list[dict[str, str]] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """A text job's body: chat ``messages`` or a bare ``prompt`` (see ``TextJobIn``)."""
    fields: dict[str, Any] = {"kind": "text", "model": model, **settings}
    if messages is not None:
        fields["messages"] = [_body(MessageIn, m) for m in messages]
    else:
        fields["prompt"] = prompt
    return _body(TextJobIn, fields)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read its answer into a ``T``."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    retry: bool = False
    """Safe to send again when the answer is lost or a 5xx: the call is idempotent."""
    follow_redirects: bool = False
    """Follow a redirect (a result served from a bucket by a presigned link). httpx drops
    the ``Authorization`` header when a redirect leaves the coordinator's origin."""

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        return http.build_request(
            self.method,
            self.path,
            params=self.params or None,
            json=self.json,
            headers=self.headers or None,
        )

    def resend_after(self, attempt: int, outcome: httpx.Response | Exception) -> float | None:
        """Seconds to wait before sending again after ``attempt`` (0 the first) ended in
        ``outcome``; None to give its answer (or raise its error) instead."""
        if not self.retry or attempt >= len(RETRY_DELAYS_S):
            return None
        if isinstance(outcome, httpx.Response):
            return RETRY_DELAYS_S[attempt] if outcome.status_code >= 500 else None
        return RETRY_DELAYS_S[attempt] if isinstance(outcome, httpx.TransportError) else None


def submit_call(
    path: str, read: Callable[[httpx.Response], T], body: Any, key: str | None
) -> Call[T]:
    """A submit under an ``Idempotency-Key`` (a fresh one unless given): sent again with the
    same key when its answer is lost, so a retry never queues or charges twice."""
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    return Call("POST", path, read, json=body, headers=headers, retry=True)


def answer(model: type[BaseModel], key: str | None = None) -> Callable[[httpx.Response], Any]:
    """Read a JSON answer, checked against ``model``; ``key`` picks one of its fields."""

    def read(response: httpx.Response) -> Any:
        data = check_response(response).json()
        model.model_validate(data)  # a protocol mismatch fails here, not three calls later
        return data[key] if key else data

    return read


def content(response: httpx.Response) -> bytes:
    return check_response(response).content


def result_content(response: httpx.Response) -> bytes:
    """A result's bytes; when they came by redirect, checked against the SHA-256 the
    coordinator stated on it (``Repr-Digest``), so a bucket cannot swap them."""
    data = check_response(response).content
    for hop in response.history:
        stated = hop.headers.get("repr-digest")
        if stated is None:
            continue
        expected = "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"
        if stated.strip() != expected:
            raise SwarmgenAPIError(
                502,
                {
                    "error": {
                        "code": "digest_mismatch",
                        "message": "redirected result "
                        "does not match the digest the coordinator stated",
                    }
                },
            )
    return data


class endpoint(Generic[P, T]):
    """Turns a ``Call`` builder into a method that sends it: sync on ``Client``,
    a coroutine on ``AsyncClient``."""

    def __init__(self, build: Callable[Concatenate[Any, P], Call[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: AsyncClient, owner: type | None = None) -> Callable[P, Awaitable[T]]: ...

    @overload
    def __get__(self, obj: Client, owner: type | None = None) -> Callable[P, T]: ...

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> endpoint[P, T]: ...

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self

        def send(*args: P.args, **kwargs: P.kwargs) -> Any:
            return obj._send(self.build(obj, *args, **kwargs))

        send.__doc__ = self.__doc__
        return send


def list_params(
    state: str | None, limit: int, updated_since: int | None, changed_after: int | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if state:
        params["state"] = state
    if updated_since is not None:
        params["updated_since"] = updated_since
    if changed_after is not None:
        params["changed_after"] = changed_after
    return params


class Requests:
    """Every requester endpoint, described once (see the module docstring)."""

    def _send(self, call: Call[Any]) -> Any:
        raise NotImplementedError

    @endpoint
    def submit(
        self, job: dict[str, Any], idempotency_key: str | None = None
    ) -> Call[dict[str, Any]]:
        """Queue a job (see :func:`image_job`, :func:`text_job`); returns id, position, price.

        Sent under an ``Idempotency-Key`` (``idempotency_key``, or a fresh one), and sent
        again with it when the answer is lost: the job is queued and charged once."""
        return submit_call(paths.JOBS, answer(JobAccepted), job, idempotency_key)

    @endpoint
    def submit_image(
        self, /, prompt: str, model: str, *, idempotency_key: str | None = None, **settings: Any
    ) -> Call[dict[str, Any]]:
        body = image_job(prompt, model, **settings)
        return submit_call(paths.JOBS, answer(JobAccepted), body, idempotency_key)

    @endpoint
    def submit_text(
        self, /, model: str, *, idempotency_key: str | None = None, **settings: Any
    ) -> Call[dict[str, Any]]:
        body = text_job(model, **settings)
        return submit_call(paths.JOBS, answer(JobAccepted), body, idempotency_key)

    @endpoint
    def submit_many(
        self, jobs: list[dict[str, Any]], idempotency_key: str | None = None
    ) -> Call[list[dict[str, Any]]]:
        """Queue up to 64 jobs at once, all or none (idempotent as :meth:`submit`)."""
        body = _body(JobBatchIn, {"jobs": jobs})
        path = f"{paths.JOBS}/batch"
        return submit_call(path, answer(JobBatchAccepted, "jobs"), body, idempotency_key)

    @endpoint
    def status(self, job_id: str, wait: float = 0) -> Call[dict[str, Any]]:
        """A job's view; with ``wait``, the server holds the answer until it is final."""
        return Call("GET", paths.job(job_id), answer(JobView), params={"wait": wait})

    @endpoint
    def result(self, job_id: str, index: int = 0, format: str = "raw") -> Call[bytes]:
        """PNG bytes of image ``index``, or the text (``format="json"``: tokens, logprobs)."""
        params = {"index": index, "format": format}
        return Call(
            "GET",
            f"{paths.job(job_id)}/result",
            result_content,
            params=params,
            follow_redirects=True,
        )

    @endpoint
    def cancel(self, job_id: str) -> Call[dict[str, Any]]:
        return Call("POST", f"{paths.job(job_id)}/cancel", answer(JobView))

    @endpoint
    def quote(self, job: dict[str, Any]) -> Call[dict[str, Any]]:
        """What ``job`` would cost: price, work units, balance and shortfall (nothing queued)."""
        return Call("POST", f"{paths.JOBS}/quote", answer(QuoteOut), json=job)

    @endpoint
    def balance(self) -> Call[dict[str, Any]]:
        """Your spendable and reserved micro-credits."""
        return Call("GET", f"{paths.CREDITS}/balance", answer(BalanceOut))

    @endpoint
    def entries(self, limit: int = 50, before: int | None = None) -> Call[dict[str, Any]]:
        """Your ledger entries, newest first; pass ``next_before`` back as ``before`` to page."""
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        return Call("GET", f"{paths.CREDITS}/entries", answer(EntriesOut), params=params)

    @endpoint
    def jobs(
        self,
        state: str | None = None,
        limit: int = 50,
        updated_since: int | None = None,
        changed_after: int | None = None,
    ) -> Call[list[dict[str, Any]]]:
        """Your jobs, newest first; with ``changed_after`` (a ``change_seq``; start at 0),
        those changed since, in commit order: page on from the largest ``change_seq``
        seen and no change is ever skipped. ``updated_since`` (ms) is the older time
        cursor, which can skip a change committed late."""
        params = list_params(state, limit, updated_since, changed_after)
        return Call("GET", paths.JOBS, answer(JobList, "jobs"), params=params)


def next_wait(left: float) -> float:
    """How long the next long poll of ``wait`` asks the server to hold, ``left`` seconds left."""
    return max(0.0, min(LONG_POLL_S, left))


def finished(view: Mapping[str, Any], left: float) -> bool:
    """Whether ``wait`` returns: the job is final or the time was up before this poll."""
    return view["state"] in FINAL_STATES or left <= 0
