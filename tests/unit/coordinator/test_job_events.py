"""The job event lines: one per event of a request, listing its jobs, grouped where
their fields differ (offering, refusal code)."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest

from swarmgen.clock import FakeClock
from swarmgen.coordinator.metrics import Observer
from swarmgen.store.port import Store
from swarmgen.store.records import JobRecord


def events(caplog: pytest.LogCaptureFixture) -> list[tuple[Any, ...]]:
    return [
        (r.event, r.job_ids, r.getMessage())  # type: ignore[attr-defined]
        for r in caplog.records
        if hasattr(r, "event")
    ]


@pytest.fixture
def observer(caplog: pytest.LogCaptureFixture) -> Observer:
    caplog.set_level(logging.INFO, logger="swarmgen.jobs")
    return Observer(cast(Store, None), FakeClock())  # the store is read at a scrape only


def test_a_pop_of_two_offerings_is_a_line_for_each(
    observer: Observer, caplog: pytest.LogCaptureFixture
) -> None:
    leased = [
        SimpleNamespace(id=job_id, offering=offering)
        for job_id, offering in [("a", "echo-image@fp32"), ("b", "echo-text@fp32"),
                                 ("c", "echo-image@fp32")]
    ]  # fmt: skip
    observer.on_pop("w1", cast(list[JobRecord], leased), 0.0)
    assert events(caplog) == [
        ("leased", ["a", "c"], "job leased worker_id=w1 offering=echo-image@fp32 job_ids=a,c"),
        ("leased", ["b"], "job leased worker_id=w1 offering=echo-text@fp32 job_ids=b"),
    ]
    assert observer.leased.labels("echo-image@fp32")._value.get() == 2


def test_results_are_a_line_accepted_and_a_line_per_refusal_code(
    observer: Observer, caplog: pytest.LogCaptureFixture
) -> None:
    refused = [("b", "not_leased"), ("c", "bad_receipt"), ("d", "not_leased")]
    observer.on_results("w1", ["a"], refused)
    assert [(name, ids) for name, ids, _ in events(caplog)] == [
        ("completed", ["a"]),
        ("rejected", ["b", "d"]),
        ("rejected", ["c"]),
    ]
    assert observer.rejected.labels("not_leased")._value.get() == 2


def test_an_empty_pop_or_answer_logs_nothing(
    observer: Observer, caplog: pytest.LogCaptureFixture
) -> None:
    observer.on_pop("w1", [], 0.0)
    observer.on_results("w1", [], [])
    assert events(caplog) == []


def test_a_batch_submitted_is_a_line_per_offering(
    observer: Observer, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = [("echo-text@fp32", "a"), ("echo-image@fp32", "b"), ("echo-text@fp32", "c")]
    observer.on_submit("u1", jobs, "native")
    assert events(caplog) == [
        ("submitted", ["a", "c"],
         "job submitted user_id=u1 offering=echo-text@fp32 face=native job_ids=a,c"),
        ("submitted", ["b"],
         "job submitted user_id=u1 offering=echo-image@fp32 face=native job_ids=b"),
    ]  # fmt: skip
    assert observer.submitted.labels("echo-text@fp32")._value.get() == 2


def test_nothing_is_built_when_job_events_are_not_logged(
    observer: Observer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="swarmgen.jobs")
    monkeypatch.setattr("swarmgen.coordinator.metrics.log.info", None)  # would fail if called
    observer.on_results("w1", ["a"], [])
    assert events(caplog) == []
    assert observer.completed._value.get() == 1
