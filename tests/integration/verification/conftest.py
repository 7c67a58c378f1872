"""Offline model fixtures for verification tests: one shared model cache per session.

Set ``SWARMGEN_TEST_CACHE`` to a folder to keep built and converted models between runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Model hubs are unreachable: fail fast instead of trying the network."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    kept = os.environ.get("SWARMGEN_TEST_CACHE")
    yield Path(kept) if kept else tmp_path_factory.mktemp("models")
