"""Where a registry ``source`` points: a builtin model, a local folder or a hub id.

``builtin:NAME`` models are resolved by a hook registered by name
(:func:`register_builtin`), imported only when a worker loads that model: ``tiny-sd``
and ``smollm2-135m`` are built or converted on first use under the worker's cache
directory; ``shapes-64`` ships inside :mod:`swarmgen.shapes`, whose hook also makes its
custom UNet class importable for diffusers. A path must exist; anything else is passed
on as a hub id, which needs network access on the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from swarmgen.backends.base import BackendError, ModelUnavailable
from swarmgen.backends.plugins import load_object

BUILTIN = "builtin:"
_PATH_PREFIXES = ("/", "./", "../", "~")

SourceHook = Callable[[Path | None], str]
"""Given the worker's cache directory, a folder or hub id ``from_pretrained`` can load."""


@dataclass(frozen=True)
class Builtin:
    """A registered builtin model source."""

    hook: str
    """``"module:function"`` of a :data:`SourceHook`, imported on first use."""
    needs_cache: bool
    """Whether the hook builds into the cache directory (so it must be given)."""


_BUILTINS: dict[str, Builtin] = {}


def register_builtin(name: str, hook: str, *, needs_cache: bool = True) -> None:
    """Make ``builtin:NAME`` a source registry entries may name; the last one wins."""
    _BUILTINS[name] = Builtin(hook, needs_cache)


def _resolve_builtin(source: str, cache_dir: Path | None) -> str:
    name = source.removeprefix(BUILTIN)
    builtin = _BUILTINS.get(name)
    if builtin is None:
        raise ModelUnavailable(f"unknown builtin model {source!r}")
    if builtin.needs_cache and cache_dir is None:
        raise BackendError(f"{source} needs a cache directory to be built in")
    try:
        hook: SourceHook = load_object(builtin.hook)
    except BackendError as exc:
        raise ModelUnavailable(f"{source} needs {builtin.hook}, which this install lacks") from exc
    return hook(cache_dir)


def resolve_source(source: str, cache_dir: Path | None) -> str:
    """A folder or hub id that ``from_pretrained`` can load for ``source``.

    ``cache_dir`` is where builtin models are built; only they need it.
    """
    if source.startswith(BUILTIN):
        return _resolve_builtin(source, cache_dir)
    if source.startswith(_PATH_PREFIXES):
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise ModelUnavailable(f"model folder {folder} does not exist")
        return str(folder)
    if not source:
        raise ModelUnavailable("the registry entry has no source")
    return source  # a relative folder, or a hub id for from_pretrained to fetch


register_builtin("tiny-sd", "swarmgen.backends.tiny_sd:source")
register_builtin("smollm2-135m", "swarmgen.backends.smollm2:source")
register_builtin("shapes-64", "swarmgen.shapes:source", needs_cache=False)
