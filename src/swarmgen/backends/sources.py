"""Where a registry ``source`` points: a builtin model, a local folder or a hub id.

``builtin:NAME`` models are built or converted on first use under the worker's cache
directory (``tiny-sd``, ``smollm2-135m``) or trained and shipped by ``swarmgen.shapes``
(``shapes-64``). A path must exist; anything else is passed on as a hub id, which needs
network access on the worker.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from swarmgen.backends.base import BackendError, ModelUnavailable

BUILTIN = "builtin:"
_PATH_PREFIXES = ("/", "./", "../", "~")


def _shapes_dir() -> Path:
    try:
        model_dir = importlib.import_module("swarmgen.shapes").model_dir
    except (ImportError, AttributeError) as exc:
        raise ModelUnavailable(
            "builtin:shapes-64 needs swarmgen.shapes.model_dir(), which this install lacks"
        ) from exc
    folder = Path(model_dir())
    if not (folder / "model_index.json").is_file():
        raise ModelUnavailable(f"shapes-64 weights are missing at {folder}")
    return folder


def resolve_source(source: str, cache_dir: Path | None) -> str:
    """A folder or hub id that ``from_pretrained`` can load for ``source``.

    ``cache_dir`` is where builtin models are built; only they need it.
    """
    if source.startswith(BUILTIN):
        name = source.removeprefix(BUILTIN)
        if cache_dir is None and name != "shapes-64":
            raise BackendError(f"{source} needs a cache directory to be built in")
        if name == "tiny-sd":
            from swarmgen.backends.tiny_sd import build_tiny_sd

            assert cache_dir is not None
            return str(build_tiny_sd(cache_dir / "tiny-sd"))
        if name == "shapes-64":
            return str(_shapes_dir())
        if name == "smollm2-135m":
            from swarmgen.backends.smollm2 import convert_smollm2

            assert cache_dir is not None
            return str(convert_smollm2(cache_dir))
        raise ModelUnavailable(f"unknown builtin model {source!r}")
    if source.startswith(_PATH_PREFIXES):
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise ModelUnavailable(f"model folder {folder} does not exist")
        return str(folder)
    if not source:
        raise ModelUnavailable("the registry entry has no source")
    return source  # a relative folder, or a hub id for from_pretrained to fetch
