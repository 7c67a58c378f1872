"""Build the backend a registry entry names, for one offering on this machine.

Nothing heavy happens here: weights are resolved, built and loaded by the backend's
``load()``, so a worker can build all its backends and then load them one by one. Which
builder runs is looked up by name (:mod:`swarmgen.backends.plugins`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from swarmgen.backends.base import Backend, BackendError
from swarmgen.backends.plugins import BackendRequest, build_backend, uses_tiers
from swarmgen.backends.precision import check_library, tier_pins
from swarmgen.core.offerings import Offering, Precision
from swarmgen.registry import ModelEntry


def make_backend(
    entry: ModelEntry,
    offering: Offering,
    *,
    cache_dir: Path,
    threads: int,
    run_precision: Precision | None = None,
) -> Backend:
    """The backend ``entry.backend`` names, serving ``offering``.

    ``run_precision`` is the precision actually run; it defaults to the offering's own.
    A different one makes a worker that declares one precision and runs another (a
    cheater, for tests and simulations of verification). A torch backend's tier pins are
    resolved here and the installed library checked against their version range
    (``BackendError`` outside it), before anything loads.
    """
    if offering.name != entry.name:
        raise BackendError(f"offering {offering} is not model {entry.name}")
    if offering.precision not in entry.offerings:
        raise BackendError(f"{entry.name} is not offered at {offering.precision}")
    request = BackendRequest(entry, offering, cache_dir, threads, run_precision)
    if uses_tiers(entry.backend):
        pins = tier_pins(entry, run_precision or offering.precision)
        check_library(pins)
        request = replace(request, pins=pins)
    return build_backend(entry.backend, request)
