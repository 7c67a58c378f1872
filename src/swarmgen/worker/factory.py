"""Build a worker from its settings: keys, client, and one backend per offering."""

from __future__ import annotations

from collections.abc import Callable

from swarmgen.backends.base import Backend
from swarmgen.core.offerings import Offering
from swarmgen.keyfile import load_or_create
from swarmgen.registry import Registry, load_registry
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.worker.daemon import Worker
from swarmgen.worker.settings import WorkerSettings

BackendWrapper = Callable[[dict[Offering, Backend], Registry], dict[Offering, Backend]]
"""Rewrites the built backends before the worker starts (tools wrap them to cheat on purpose)."""


def build_backends(settings: WorkerSettings) -> dict[Offering, Backend]:
    from swarmgen.backends.factory import make_backend

    registry = load_registry(settings.registry)
    backends: dict[Offering, Backend] = {}
    for text in settings.models:
        offering = Offering.parse(text)
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
    )
