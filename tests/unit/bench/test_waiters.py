"""The waiters bench reports each pop by what became of it."""

from __future__ import annotations

from types import ModuleType

import httpx
import pytest
from tests.unit.bench.bench_module import load


@pytest.fixture(scope="module")
def waiters() -> ModuleType:
    return load("waiters")


def test_pops_are_counted_by_outcome(waiters: ModuleType) -> None:
    pop = waiters.Pop
    pops = [
        pop(0.0, 30.02, 30.0),  # waited its whole wait: empty, 20 ms over
        pop(0.0, 31.0, 30.0),
        pop(0.0, 0.4, 30.0, jobs=1),  # leased
        pop(0.0, 3.0, 30.0),  # answered empty before its wait ran out
        pop(0.0, 0.01, 30.0, error="ReadError: connection reset"),
        pop(0.0, 29.0, 30.0, error="ReadError: "),
    ]
    summary = waiters.summarize_pops(pops)
    assert (summary["leased"], summary["empty"], summary["early"], summary["failed"]) == (
        1,
        2,
        1,
        2,
    )
    assert summary["empty_over_max_ms"] == 1000.0
    assert summary["failures"] == {
        "ReadError": {
            "count": 2,
            "sample": "connection reset",
            "after_s_min": 0.01,
            "after_s_max": 29.0,
        }
    }


def test_a_failure_is_described_by_its_type_and_message(waiters: ModuleType) -> None:
    request = httpx.Request("POST", "http://x/pop")
    response = httpx.Response(500, text="Internal Server Error", request=request)
    failure = httpx.HTTPStatusError("500", request=request, response=response)
    assert waiters.describe(failure) == "HTTPStatusError: 500 Internal Server Error"
    assert waiters.describe(httpx.ReadError("")).startswith("ReadError: ")
