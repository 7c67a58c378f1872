"""Schemathesis over the whole OpenAPI document, against the real app on SQLite and PostgreSQL.

Every operation in the document gets generated requests, valid and invalid, sent as a real
client would: requester operations carry a requester key, worker operations are signed by a
registered worker. No answer may be a server error, and every answer must be one the
document declares (status code, media type, body schema); that is what keeps the document
honest for SDKs generated from it. The replicated deployment gets the same run: two
coordinators on one PostgreSQL, the cases alternating between them.

The run is bounded: a fixed case budget spread over the operations, derandomised so CI sees
the same cases every run, no per-example deadline, and a wall-clock cap per database.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, Verbosity
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.integration.coordinator.conftest import Clock, Env
from tests.integration.coordinator.helpers import MODELS

from swarmgen.coordinator.admin import create_key
from swarmgen.coordinator.app import create_app
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.signing import KeyPair, sign_request
from swarmgen.sdk.worker_client import WorkerClient

MIN_CASES = 1_000
"""Generated requests per database, at least; spread evenly over the operations."""

WALL_S = 85.0
"""Per database (about 35 s on two idle cores): a run that has not reached ``MIN_CASES`` by
then fails rather than drag on, so both databases stay within three minutes."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

WORKER_PREFIX = "/api/v1/workers/"
"""Operations under this path authenticate by a request signature, not a bearer key."""


@dataclass(frozen=True)
class Finding:
    """One distinct failure: which operation, which check, and a request that shows it."""

    operation: str
    title: str
    status: int
    example: str

    def line(self) -> str:
        return f"{self.operation}: {self.title} (HTTP {self.status})\n    {self.example}"


class Alternating:
    """A client that sends each request to the next of several replicas in turn."""

    def __init__(self, clients: list[TestClient]) -> None:
        self.clients = clients
        self.sent = 0

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        client = self.clients[self.sent % len(self.clients)]
        self.sent += 1
        return client.request(method, url, **kwargs)


class Fuzzer:
    """Sends generated cases through ``http``, authenticated, and collects findings."""

    def __init__(self, http: TestClient | Alternating, worker: KeyPair) -> None:
        self.http = http
        self.worker = worker
        self.cases = 0
        self.findings: dict[tuple[str, str, int], Finding] = {}

    def send(self, case: Any) -> None:
        self.cases += 1
        _no_long_polls(case)
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        content = _content(kwargs)
        path = case.formatted_path
        if path.startswith(WORKER_PREFIX):
            signed = sign_request(self.worker, case.method.upper(), path, content, int(time.time()))
            kwargs["headers"] = {**kwargs.get("headers", {}), **signed}
        response = self.http.request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers=kwargs.get("headers"),
            content=content or None,
        )
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                self._record(case, content, response.status_code, response.content, failure)

    def _record(self, case: Any, sent: bytes, status: int, body: bytes, failure: Failure) -> None:
        operation = f"{case.method.upper()} {case.operation.path}"
        key = (operation, failure.title, status)
        if key in self.findings:
            return
        query = f"?{case.query}" if case.query else ""
        shown = f" body={sent[:200]!r}" if sent else ""
        example = f"{case.method.upper()} {case.formatted_path}{query}{shown} -> {body[:200]!r}"
        self.findings[key] = Finding(operation, failure.title, status, example)


def _content(kwargs: dict[str, Any]) -> bytes:
    """The body as the exact bytes sent, so a worker signature covers what the server reads."""
    if "json" in kwargs:
        return json.dumps(kwargs.pop("json"), separators=(",", ":")).encode()
    data = kwargs.pop("data", None)
    if data is None:
        return b""
    return data.encode() if isinstance(data, str) else bytes(data)


def _no_long_polls(case: Any) -> None:
    """Long polls answer at once: a generated wait of a minute would spend the whole budget."""
    if isinstance(case.query, dict) and "wait" in case.query:
        case.query["wait"] = 0
    if case.formatted_path.endswith("/workers/pop") and isinstance(case.body, dict):
        case.body["wait_s"] = 0


def _order(finding: Finding) -> tuple[str, str, int]:
    return finding.operation, finding.title, finding.status


def _strategy(operation: Any, headers: dict[str, str]) -> Any:
    positive = operation.as_strategy(GenerationMode.POSITIVE, headers=headers)
    negative = operation.as_strategy(GenerationMode.NEGATIVE, headers=headers)
    return positive | negative  # valid inputs reach the rules, invalid ones the edge


def _run(strategy: Any, examples: int, send: Callable[[Any], None], end: float) -> None:
    """Up to ``examples`` cases from ``strategy``, none once ``end`` has passed."""

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @hypothesis.given(case=strategy)
    def fuzz(case: Any) -> None:
        if time.monotonic() < end:
            send(case)

    fuzz()


def _fuzz_document(http: TestClient | Alternating, first: TestClient, key: str) -> None:
    """Every operation of ``first``'s document, with generated cases sent through ``http``;
    fails on any finding or on too few cases."""
    # The worker is registered with its owner's key, so the stake operations reach past
    # "register with your owner's key" into their own rules.
    worker = KeyPair.generate()
    owned = WorkerClient("http://testserver", worker, owner_key=key, http=first)
    owned.register("fuzz", MODELS, 512 * 512, 4)
    app = first.app
    assert isinstance(app, FastAPI)
    requester = {"authorization": f"Bearer {key}"}
    schema = schemathesis.openapi.from_dict(app.openapi())
    # Operations with a body last: an operation with few distinct inputs (``GET /healthz``)
    # runs out of new cases early, and the ones after it take up what it left of the budget.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: (op.body is not None and len(op.body) > 0, op.path, op.method),
    )
    fuzzer = Fuzzer(http, worker)
    end = time.monotonic() + WALL_S
    target = math.ceil(MIN_CASES * 1.1)
    for done, operation in enumerate(operations):
        share = math.ceil(max(target - fuzzer.cases, 0) / (len(operations) - done))
        headers = {} if operation.path.startswith(WORKER_PREFIX) else requester
        _run(_strategy(operation, headers), max(share, 1), fuzzer.send, end)

    report = "\n".join(f.line() for f in sorted(fuzzer.findings.values(), key=_order))
    print(f"{fuzzer.cases} cases over {len(operations)} operations\n{report}")
    assert fuzzer.cases >= MIN_CASES, f"only {fuzzer.cases} cases in {WALL_S} s"
    assert not fuzzer.findings, report


@pytest.mark.parametrize("settings_overrides", [{"openai_wait_s": 0}])  # nobody serves jobs
def test_whole_openapi_document_survives_generated_requests(env: Env) -> None:
    _fuzz_document(env.http, env.http, env.key)


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[tuple[list[TestClient], str]]:
    """Two coordinators on one PostgreSQL, each with its own engine, as replicas run."""
    settings = CoordinatorSettings(
        data=tmp_path,
        database_url=postgres_url,
        lease_min_s=5,
        max_attempts=2,
        min_stake=0,
        panel_stages=(1, 3, 5),
        trusted_workers=True,
        openai_wait_s=0,  # nobody serves jobs
    )
    clock = Clock()
    apps = [create_app(settings, clock=clock), create_app(settings, clock=clock)]
    with (
        TestClient(apps[0], raise_server_exceptions=False) as first,
        TestClient(apps[1], raise_server_exceptions=False) as second,
    ):
        key = create_key(apps[0].state.store, clock, "alice").key
        apps[0].state.credits.grant("alice", 10**9)
        yield [first, second], key


@pytest.mark.postgres
def test_two_replicas_survive_generated_requests(
    replicas: tuple[list[TestClient], str],
) -> None:
    clients, key = replicas
    http = Alternating(clients)
    _fuzz_document(http, clients[0], key)
    assert http.sent >= MIN_CASES  # each replica answered half of them
