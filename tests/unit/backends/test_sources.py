"""Resolving registry sources: builtins, folders and hub ids."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from swarmgen.backends.base import BackendError, ModelUnavailable
from swarmgen.backends.sources import resolve_source


def test_hub_id_passes_through(tmp_path: Path) -> None:
    assert resolve_source("stabilityai/sd-turbo", tmp_path) == "stabilityai/sd-turbo"


def test_existing_folder_resolves_to_itself(tmp_path: Path) -> None:
    assert resolve_source(str(tmp_path), None) == str(tmp_path)


def test_missing_folder_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="does not exist"):
        resolve_source(str(tmp_path / "absent"), tmp_path)


@pytest.mark.parametrize("source", ["", "builtin:nothing"])
def test_unknown_or_empty_source_is_unavailable(source: str, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable):
        resolve_source(source, tmp_path)


@pytest.mark.parametrize("source", ["builtin:tiny-sd", "builtin:smollm2-135m"])
def test_built_models_need_a_cache_dir(source: str) -> None:
    with pytest.raises(BackendError, match="cache directory"):
        resolve_source(source, None)


def test_shapes_without_model_dir_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "swarmgen.shapes", types.ModuleType("swarmgen.shapes"))
    with pytest.raises(ModelUnavailable, match="model_dir"):
        resolve_source("builtin:shapes-64", None)


def test_shapes_resolves_to_its_model_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text("{}")
    fake = types.ModuleType("swarmgen.shapes")
    fake.model_dir = lambda: tmp_path  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "swarmgen.shapes", fake)
    assert resolve_source("builtin:shapes-64", None) == str(tmp_path)


def test_shapes_with_missing_weights_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = types.ModuleType("swarmgen.shapes")
    fake.model_dir = lambda: tmp_path  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "swarmgen.shapes", fake)
    with pytest.raises(ModelUnavailable, match="missing"):
        resolve_source("builtin:shapes-64", None)
