"""Leader election across coordinator apps, and periodic tasks that never stall serving."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from swarmgen.coordinator.app import create_app
from swarmgen.coordinator.reaper import Reaper
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.coordinator.tasks import TaskRunner
from swarmgen.store import make_engine
from swarmgen.store.leader import AdvisoryLock


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def runner(app: FastAPI) -> TaskRunner:
    tasks: TaskRunner = app.state.tasks
    return tasks


def app_on(database_url: str, data: Path, **settings: object) -> FastAPI:
    return create_app(
        CoordinatorSettings(data=data, database_url=database_url, leader_check_s=0.02, **settings)
    )


@pytest.mark.postgres
def test_advisory_lock_one_leads_then_hands_over(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    first, second = AdvisoryLock(engine), AdvisoryLock(engine)
    assert first.refresh() and not second.refresh()
    assert first.refresh()  # still held, still leading
    first.release()
    assert second.refresh() and not first.refresh()
    second.release()
    first.release()  # a follower closes its connection too
    engine.dispose()


@pytest.mark.postgres
def test_a_lost_connection_loses_leadership_to_another(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    first, second = AdvisoryLock(engine), AdvisoryLock(engine)
    assert first.refresh() and not second.refresh()
    with engine.connect() as admin:  # the leader's session dies (network cut, server restart)
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND classid = :cls AND granted"
                " AND objid = hashtext(current_schema())::oid"
            ),
            {"cls": 0x5767},
        )
    wait_for(second.refresh)
    assert not first.refresh()  # noticed the loss, and the lock is taken now
    second.release()
    first.release()
    engine.dispose()


def test_of_two_apps_on_one_database_exactly_one_leads(database_url: str, tmp_path: Path) -> None:
    apps = [app_on(database_url, tmp_path), app_on(database_url, tmp_path)]
    with ExitStack() as stack:
        clients = [stack.enter_context(TestClient(app)) for app in apps]
        leaders = [runner(app).is_leader for app in apps]
        assert leaders.count(True) == 1
        leader = leaders.index(True)
        clients[leader].__exit__(None, None, None)  # the leader stops and lets go
        other = runner(apps[1 - leader])
        wait_for(lambda: other.is_leader)
    for app in apps:
        app.state.store.engine.dispose()


def test_a_hung_task_does_not_block_healthz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    started, release = threading.Event(), threading.Event()

    def hang(_self: Reaper) -> tuple[list[str], list[str]]:
        started.set()
        release.wait(30)
        return [], []

    monkeypatch.setattr(Reaper, "reap", hang)
    url = f"sqlite:///{tmp_path / 'swarmgen.db'}"
    app = app_on(url, tmp_path, reap_interval_s=0.02, reap_timeout_s=0.1)
    with caplog.at_level(logging.WARNING), TestClient(app) as http:
        assert started.wait(10)
        wait_for(lambda: "task lease-reaper ran past its 0.1 s timeout" in caplog.text)
        began = time.monotonic()
        assert http.get("/healthz").status_code == 200
        # the hung pass holds 30 s: a bound well under that, with room for a long test
        # process's pauses (one full-suite run took 1.7 s here)
        assert time.monotonic() - began < 5.0
        release.set()
    app.state.store.engine.dispose()
