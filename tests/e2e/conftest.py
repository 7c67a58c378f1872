"""End-to-end tests start real processes on loopback with the offline models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One converted-model cache for every worker of the session (SWARMGEN_CACHE)."""
    configured = os.environ.get("SWARMGEN_TEST_CACHE")
    return Path(configured) if configured else tmp_path_factory.mktemp("model-cache")
