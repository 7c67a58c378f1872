"""Resolving registry sources: builtins, folders and hub ids."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from swarmgen.backends import sources
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


def test_a_builtin_whose_hook_is_missing_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "swarmgen.shapes", types.ModuleType("swarmgen.shapes"))
    with pytest.raises(ModelUnavailable, match=r"swarmgen\.shapes:source"):
        resolve_source("builtin:shapes-64", None)


def test_shapes_resolves_to_its_model_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import swarmgen.shapes

    (tmp_path / "model_index.json").write_text("{}")
    monkeypatch.setattr(swarmgen.shapes, "model_dir", lambda: tmp_path)
    monkeypatch.setitem(sys.modules, "swarmgen.shapes.unet", types.ModuleType("unet"))
    assert resolve_source("builtin:shapes-64", None) == str(tmp_path)


def test_shapes_with_missing_weights_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import swarmgen.shapes

    monkeypatch.setattr(swarmgen.shapes, "model_dir", lambda: tmp_path)
    with pytest.raises(ModelUnavailable, match="missing"):
        resolve_source("builtin:shapes-64", None)


def test_a_registered_builtin_resolves_through_its_hook(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hooks = types.ModuleType("swarmgen_test_hooks")
    hooks.where = lambda cache: str(cache / "built")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "swarmgen_test_hooks", hooks)
    monkeypatch.setattr(sources, "_BUILTINS", dict(sources._BUILTINS))
    sources.register_builtin("test-model", "swarmgen_test_hooks:where")
    assert resolve_source("builtin:test-model", tmp_path) == str(tmp_path / "built")
    with pytest.raises(BackendError, match="cache directory"):
        resolve_source("builtin:test-model", None)
