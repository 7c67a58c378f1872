"""Build a worker from its settings: keys, client, and one backend per offering."""

from __future__ import annotations

import zlib

from swarmgen.backends.base import Backend
from swarmgen.cheats.backend import Cheat
from swarmgen.core.offerings import Offering
from swarmgen.registry import Registry, load_registry
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.worker.daemon import Worker
from swarmgen.worker.keys import load_or_create
from swarmgen.worker.settings import WorkerSettings


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
    if settings.cheat is not None:
        backends = _cheating(backends, settings.cheat, settings, registry)
    return backends


def _cheating(
    backends: dict[Offering, Backend], cheat: Cheat, settings: WorkerSettings, registry: Registry
) -> dict[Offering, Backend]:
    """Wrap the backends whose kind the configured cheat applies to (tests and benchmarks)."""
    from swarmgen.cheats.build import make_cheater

    wrapped = dict(backends)
    for offering, backend in backends.items():
        if registry.entry(offering).kind in cheat.kinds:
            wrapped[offering] = make_cheater(
                registry,
                offering,
                cheat,
                rate=settings.cheat_rate,
                seed=zlib.crc32(settings.name.encode()),
                cache_dir=settings.cache_dir,
                threads=settings.threads,
                inner=backend,
            )
    return wrapped


def build_worker(settings: WorkerSettings) -> Worker:
    keys = load_or_create(settings.key_path)
    client = WorkerClient(settings.coordinator_url, keys, owner_key=settings.owner_key)
    return Worker(
        client=client,
        backends=build_backends(settings),
        name=settings.name,
        max_pixels=settings.max_pixels,
        max_batch=settings.max_batch,
        pop_wait_s=settings.pop_wait_s,
        heartbeat_s=settings.heartbeat_s,
    )
