"""Build a worker from its settings: keys, client, and one backend per offering."""

from __future__ import annotations

import logging
from collections.abc import Callable

from swarmgen.backends.base import Backend
from swarmgen.core.offerings import Offering
from swarmgen.keyfile import load_or_create
from swarmgen.registry import Registry, load_registry
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.worker.daemon import Worker
from swarmgen.worker.settings import WorkerSettings

log = logging.getLogger(__name__)

BackendWrapper = Callable[[dict[Offering, Backend], Registry], dict[Offering, Backend]]
"""Rewrites the built backends before the worker starts (tools wrap them to cheat on purpose)."""


class NothingFits(ValueError):
    """No offering the worker was asked to serve fits its declared memory."""


def choose_offerings(registry: Registry, models: list[str], memory: int | None) -> list[Offering]:
    """The offerings to serve: each ``name@precision`` that fits ``memory``, and for a bare
    model name its first tier (registry order: the most precise first) that fits.

    ``ValueError`` for an unknown offering; :class:`NothingFits` when none is left.
    """
    chosen: list[Offering] = []
    for text in models:
        if "@" in text:
            offering = Offering.parse(text)
            registry.entry(offering)  # KeyError: unknown
            tiers = [offering]
        else:
            model = registry.models.get(text)
            if model is None:
                raise ValueError(f"unknown model {text!r}")
            tiers = [Offering(text, precision) for precision in model.offerings]
        fitting = [o for o in tiers if registry.fits(o, memory)]
        for offering in tiers if "@" in text else fitting[:1]:
            if offering not in fitting:
                log.warning(
                    "not serving %s: it needs %s bytes, %s declared",
                    offering,
                    registry.offering(offering).footprint,
                    memory,
                )
            elif offering not in chosen:
                chosen.append(offering)
    if not chosen:
        raise NothingFits(f"none of {', '.join(models)} fits in {memory} bytes of memory")
    log.info("serving %s (memory %s)", ", ".join(map(str, chosen)), memory or "not declared")
    return chosen


def build_backends(settings: WorkerSettings) -> dict[Offering, Backend]:
    from swarmgen.backends.factory import make_backend

    registry = load_registry(settings.registry)
    backends: dict[Offering, Backend] = {}
    for offering in choose_offerings(registry, settings.models, settings.memory):
        entry = registry.entry(offering)
        backends[offering] = make_backend(
            entry, offering, cache_dir=settings.cache_dir, threads=settings.threads
        )
    return backends


def build_worker(settings: WorkerSettings, wrap: BackendWrapper | None = None) -> Worker:
    """The worker ``settings`` describe; ``wrap``, when given, replaces its backends.

    Production passes no ``wrap``: the hook exists so test and benchmark tools can build
    a misbehaving worker without the runtime knowing how it misbehaves.
    """
    keys = load_or_create(settings.key_path)
    client = WorkerClient(settings.coordinator_url, keys, owner_key=settings.owner_key)
    backends = build_backends(settings)
    if wrap is not None:
        backends = wrap(backends, load_registry(settings.registry))
    return Worker(
        client=client,
        backends=backends,
        name=settings.name,
        max_pixels=settings.max_pixels,
        max_batch=settings.max_batch,
        pop_wait_s=settings.pop_wait_s,
        heartbeat_s=settings.heartbeat_s,
        stake=settings.stake,
        memory=settings.memory,
    )
