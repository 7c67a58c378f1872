"""The queue-depth bench fills a queue a submitted job waits behind, in the core's order."""

from __future__ import annotations

from types import ModuleType

import pytest
from tests.unit.bench.bench_module import load

from swarmgen.core.jobs import JobState
from swarmgen.core.priority import PriorityPolicy, priority


@pytest.fixture(scope="module")
def queue_depth() -> ModuleType:
    return load("queue_depth")


def test_filling_jobs_queue_oldest_first_ahead_of_any_requester(queue_depth: ModuleType) -> None:
    now = 1_800_000_000_000
    jobs = [queue_depth.filler(n, now) for n in range(6)]
    assert all(j.state is JobState.QUEUED and j.validates is None for j in jobs)
    assert {j.offering for j in jobs} == set(queue_depth.MODELS)
    assert [j.queue_key for j in jobs] == sorted(j.queue_key for j in jobs)
    richest = priority(2**62, 0, PriorityPolicy())
    assert richest < queue_depth.FILL_PRIORITY  # a submit waits behind the whole queue
    assert all(j.spec == j.parsed_spec().canonical() for j in jobs)  # what a pop parses
