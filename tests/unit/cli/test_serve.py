"""``--processes N``: each server process gets the parent's settings, not the environment's."""

from __future__ import annotations

import gc
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
    try:
        assert app.state.settings == settings
        assert app.state.jobs.settings.lease_min_s == 42
        assert app.state.credits.settings.max_active_jobs == 7
        # what building the app made is kept out of the collector's full passes
        assert gc.is_tracked(app.state.settings) and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process is no server: let its objects go again
        app.state.store.engine.dispose()
