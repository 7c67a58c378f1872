"""``--processes N``: each server process gets the parent's settings, not the environment's."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from swarmgen.cli.serve import ServerProcess
from swarmgen.coordinator.settings import CoordinatorSettings


def test_a_server_process_builds_its_app_from_the_pickled_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = CoordinatorSettings(data=tmp_path, lease_min_s=42, max_active_jobs=7)
    factory = pickle.loads(pickle.dumps(ServerProcess(settings)))
    monkeypatch.setenv("SWARMGEN_LEASE_MIN_S", "99")  # what a child's environment says is moot
    app = factory()
    assert app.state.settings == settings
    assert app.state.jobs.settings.lease_min_s == 42
    assert app.state.credits.settings.max_active_jobs == 7
    app.state.store.engine.dispose()
