"""Build the backend a registry entry names, for one offering on this machine.

Nothing heavy happens here: weights are resolved, built and loaded by the backend's
``load()``, so a worker can build all its backends and then load them one by one.
"""

from __future__ import annotations

from pathlib import Path

from swarmgen.backends.base import Backend, BackendError
from swarmgen.backends.echo import EchoBackend
from swarmgen.core.offerings import Kind, Offering, Precision
from swarmgen.registry import ModelEntry

BACKENDS = ("echo", "diffusers", "transformers")


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
    cheater, for tests and simulations of verification).
    """
    if offering.name != entry.name:
        raise BackendError(f"offering {offering} is not model {entry.name}")
    if offering.precision not in entry.offerings:
        raise BackendError(f"{entry.name} is not offered at {offering.precision}")
    options = entry.options
    if entry.backend == "echo":
        return EchoBackend(
            offering,
            entry.kind,
            max_batch=int(options.get("max_batch", 32)),
            delay_s=float(options.get("delay_s", 0.0)),
        )
    if entry.backend == "diffusers" and entry.kind is Kind.IMAGE:
        from swarmgen.backends.diffusers_image import DiffusersImageBackend

        return DiffusersImageBackend(
            offering,
            entry.source,
            threads,
            max_batch=int(options.get("max_batch", 4)),
            precision=run_precision,
            cache_dir=cache_dir,
            guidance_rescale=float(options.get("guidance_rescale", 0.0)),
        )
    if entry.backend == "transformers" and entry.kind is Kind.TEXT:
        from swarmgen.backends.transformers_text import TransformersTextBackend

        return TransformersTextBackend(
            offering,
            entry.source,
            cache_dir,
            threads,
            top_k=int(options.get("top_k", 5)),
            precision=run_precision,
        )
    raise BackendError(
        f"{entry.name}: no {entry.kind} backend named {entry.backend!r} (known: {BACKENDS})"
    )
