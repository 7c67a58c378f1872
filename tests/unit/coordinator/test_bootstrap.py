"""The bootstrap: one typed container, each service on its own slice of the settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from swarmgen.clock import FakeClock
from swarmgen.coordinator.bootstrap import (
    SHARED_RECHECK_S,
    build_services,
    for_processes,
    periodic_tasks,
    prepare,
)
from swarmgen.coordinator.settings import (
    CoordinatorSettings,
    CreditSettings,
    DispatchSettings,
    EpochSettings,
    JobSettings,
)
from swarmgen.keyfile import load_or_create


def test_services_share_one_store_and_clock(tmp_path: Path) -> None:
    settings = CoordinatorSettings(data=tmp_path, lease_min_s=9, verify=False)
    clock = FakeClock()
    services = build_services(settings, clock=clock)
    assert services.jobs.settings == JobSettings.of(settings)
    assert services.workers.settings == DispatchSettings.of(settings)
    assert services.credits.settings == CreditSettings.of(settings)
    assert services.epochs.settings == EpochSettings.of(settings)
    for service in (services.jobs, services.workers, services.credits, services.epochs):
        assert service.store is services.store and service.clock is clock
    assert services.jobs.credits is services.credits
    assert services.verifier is None and services.workers.verifier is None
    assert services.epochs.keys.public_key == load_or_create(settings.key_path).public_key
    services.store.dispose()


def test_checks_on_give_the_worker_service_the_verifier(tmp_path: Path) -> None:
    services = build_services(CoordinatorSettings(data=tmp_path))
    assert services.verifier is not None and services.workers.verifier is services.verifier
    services.store.dispose()


def test_periodic_tasks_are_named_leader_only_and_timed_by_the_settings(tmp_path: Path) -> None:
    settings = CoordinatorSettings(
        data=tmp_path, reap_interval_s=2, reap_timeout_s=3, epoch_check_s=4
    )
    services = build_services(settings)
    tasks = {task.name: task for task in periodic_tasks(services, settings)}
    assert set(tasks) == {"lease-reaper", "epoch-closer", "idempotency-pruner"}
    assert all(task.leader_only for task in tasks.values())
    assert (tasks["lease-reaper"].interval_s, tasks["lease-reaper"].timeout_s) == (2, 3)
    assert tasks["epoch-closer"].interval_s == 4
    services.store.dispose()


def test_prepare_migrates_and_makes_the_key_once(tmp_path: Path) -> None:
    settings = CoordinatorSettings(data=tmp_path)
    prepare(settings)
    key = load_or_create(settings.key_path).public_key
    prepare(settings)
    assert (tmp_path / "swarmgen.db").exists()
    assert load_or_create(settings.key_path).public_key == key


def test_the_coordinator_imports_no_worker_code() -> None:
    code = (
        "import sys, swarmgen.coordinator.app, swarmgen.coordinator.admin\n"
        "print(','.join(m for m in sys.modules if m.startswith('swarmgen.worker')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_processes_on_sqlite_recheck_the_queue_often(tmp_path: Path) -> None:
    """No channel joins several processes' wake-ups on SQLite: each looks at the queue
    every SHARED_RECHECK_S, or a job queued at one waits for another's 15 s recheck."""
    sqlite = CoordinatorSettings(data=tmp_path)
    assert sqlite.pop_recheck_s > SHARED_RECHECK_S
    assert for_processes(sqlite, 1) is sqlite  # one process wakes its own waiters
    shared = for_processes(sqlite, 3)
    assert shared.pop_recheck_s == SHARED_RECHECK_S
    assert shared.model_copy(update={"pop_recheck_s": sqlite.pop_recheck_s}) == sqlite
    quicker = CoordinatorSettings(data=tmp_path, pop_recheck_s=0.1)
    assert for_processes(quicker, 3).pop_recheck_s == 0.1  # never slower than asked
    postgres = CoordinatorSettings(data=tmp_path, database_url="postgresql://127.0.0.1:5432/test")
    assert for_processes(postgres, 3) is postgres  # LISTEN/NOTIFY joins them
    short = CoordinatorSettings(data=tmp_path, database_url="postgres://127.0.0.1:5432/test")
    assert for_processes(short, 3) is short  # the same database, by its other scheme
