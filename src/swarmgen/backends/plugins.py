"""Backends by name: a registration line maps a registry ``backend`` to its builder.

A builder is named by import path (``"package.module:function"``) and imported only
when a worker builds that backend, so registering torch-based backends costs nothing
on a coordinator. Adding a backend is one new module with a :data:`BackendBuilder` plus
one :func:`register_backend` line below.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swarmgen.backends.base import Backend, BackendError
from swarmgen.core.offerings import Kind, Offering, Precision
from swarmgen.core.tiers import TierPins

if TYPE_CHECKING:
    from swarmgen.registry import ModelEntry


@dataclass(frozen=True)
class BackendRequest:
    """What a builder gets: the model's registry entry, the offering and this machine."""

    entry: ModelEntry
    offering: Offering
    cache_dir: Path
    threads: int
    run_precision: Precision | None = None
    """The precision actually run; ``None`` runs the offering's own."""
    pins: TierPins | None = None
    """How the precision actually run is computed (the factory resolves it)."""

    @property
    def tier(self) -> TierPins:
        """:attr:`pins`, else those of the precision run on this model."""
        if self.pins is not None:
            return self.pins
        from swarmgen.backends.precision import tier_pins

        return tier_pins(self.entry, self.run_precision or self.offering.precision)

    def option(self, name: str, default: Any) -> Any:
        """The entry's ``[options]`` value ``name``, or ``default``."""
        return self.entry.options.get(name, default)


BackendBuilder = Callable[[BackendRequest], Backend]
"""Builds (but does not load) a backend for one offering."""


@dataclass(frozen=True)
class BackendPlugin:
    """A registered backend: where its builder lives and which kinds it makes."""

    name: str
    builder: str
    """``"module:attribute"`` of a :data:`BackendBuilder`, imported on first use."""
    kinds: frozenset[Kind]
    tiers: bool = False
    """Whether the backend computes in torch, so each precision runs its tier's pins."""


_BACKENDS: dict[str, BackendPlugin] = {}


def load_object(target: str) -> Any:
    """The object ``"package.module:attribute"`` names, importing its module now."""
    module, sep, attribute = target.partition(":")
    if not sep or not module or not attribute:
        raise BackendError(f"{target!r} is not written module:attribute")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise BackendError(f"cannot load {target}: {exc}") from exc


def register_backend(
    name: str, builder: str, kinds: Iterable[Kind], *, tiers: bool = False
) -> BackendPlugin:
    """Make ``name`` a backend registry entries may name; the last registration wins."""
    plugin = BackendPlugin(name, builder, frozenset(kinds), tiers)
    _BACKENDS[name] = plugin
    return plugin


def backend_names() -> tuple[str, ...]:
    return tuple(_BACKENDS)


def uses_tiers(name: str) -> bool:
    """Whether backend ``name`` runs tier pins (false for unknown names)."""
    plugin = _BACKENDS.get(name)
    return plugin is not None and plugin.tiers


def build_backend(name: str, request: BackendRequest) -> Backend:
    """The backend ``name`` built for ``request``; refuses unknown names and kinds."""
    plugin = _BACKENDS.get(name)
    kind = request.entry.kind
    if plugin is None or kind not in plugin.kinds:
        known = ", ".join(n for n, p in _BACKENDS.items() if kind in p.kinds)
        raise BackendError(
            f"{request.entry.name}: no {kind} backend named {name!r} (known: {known})"
        )
    builder: BackendBuilder = load_object(plugin.builder)
    return builder(request)


register_backend("echo", "swarmgen.backends.echo:build", (Kind.IMAGE, Kind.TEXT))
register_backend("diffusers", "swarmgen.backends.diffusers_image:build", (Kind.IMAGE,), tiers=True)
register_backend(
    "transformers", "swarmgen.backends.transformers_text:build", (Kind.TEXT,), tiers=True
)
