"""The coordinator's bootstrap: settings in, a typed container of services out, built once.

:func:`build_services` is the one place that knows how the parts fit: it opens the store
(migrating it), loads the registry and the coordinator's key, and hands each service only
the slice of the settings it reads. Both it and :func:`prepare` refuse settings under
which cheating pays (:func:`check_settings`). :func:`periodic_tasks` names the background work over
those services. The HTTP faces and the task runner take a :class:`Services` and nothing
else, so a new face or a new task needs no change here beyond its own line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from swarmgen.blobs import BlobStore, FileBlobStore
from swarmgen.chain.settings import ChainSettings
from swarmgen.chain.wiring import chain_task, stake_source
from swarmgen.clock import Clock, SystemClock
from swarmgen.coordinator.admin import open_store
from swarmgen.coordinator.credits import CreditService
from swarmgen.coordinator.epochs import EpochService
from swarmgen.coordinator.jobs import JobService
from swarmgen.coordinator.notify import Notifier
from swarmgen.coordinator.reaper import Reaper
from swarmgen.coordinator.replicas import notifier_for
from swarmgen.coordinator.settings import (
    CoordinatorSettings,
    CreditSettings,
    DispatchSettings,
    EpochSettings,
    JobSettings,
)
from swarmgen.coordinator.tasks import PeriodicTask
from swarmgen.coordinator.verification import Verifier
from swarmgen.coordinator.workers import WorkerService
from swarmgen.core.economics import Terms
from swarmgen.core.verification.escalation import EscalationPolicy
from swarmgen.keyfile import load_or_create
from swarmgen.registry import Registry, check_economics, economic_terms, load_registry
from swarmgen.store import Store, relays_wakeups
from swarmgen.store.leader import Leadership, leadership_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """Everything a coordinator process runs on, built once per process."""

    store: Store
    blobs: BlobStore
    registry: Registry
    clock: Clock
    notifier: Notifier
    """Wakes long-polls in this process when a job changes."""
    credits: CreditService
    jobs: JobService
    workers: WorkerService
    reaper: Reaper
    epochs: EpochService
    verifier: Verifier | None
    """None when re-execution checks are off (``verify=false``)."""
    chain: ChainSettings
    """Where the chain is (none by default): stake is read there, seals posted there."""


def check_settings(settings: CoordinatorSettings, registry: Registry) -> None:
    """Refuse ``settings`` under which a cheated job is a winning bet.

    The rule and its variables are :mod:`swarmgen.core.economics`'s; the stake every
    serving key locks is the ``min_stake`` setting. Nothing is refused when checks are
    off (``verify=false``: the operator trusts its workers, and no setting could price a
    cheat nobody looks for) or when the operator says so (``trusted_workers``).
    """
    if not settings.verify or settings.trusted_workers:
        return
    check_economics(registry, terms_of(settings, registry))


def terms_of(settings: CoordinatorSettings, registry: Registry) -> Terms:
    """The economic rule's terms under ``settings`` and ``registry``."""
    return economic_terms(
        registry,
        slash_ppm=settings.slash_ppm,
        min_stake=settings.min_stake,
        validator_fee_ppm=settings.validator_fee_ppm,
    )


def open_blobs(settings: CoordinatorSettings) -> BlobStore:
    """The blob store ``settings`` name: files in the data folder, or a bucket (checked
    reachable now, so a wrong bucket fails the start, not the first result)."""
    if settings.blob_store == "files":
        return FileBlobStore(settings.blob_dir)
    from swarmgen.blobs.s3 import S3BlobStore, S3Location  # boto3 only where a bucket is used

    assert settings.s3_bucket is not None  # the settings' validator requires it
    store = S3BlobStore(
        S3Location(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
        )
    )
    store.check()
    return store


SHARED_RECHECK_S = 0.25
"""How often each of several processes on one SQLite database looks at the queue for its
waiting pops (see :func:`for_processes`)."""


def for_processes(settings: CoordinatorSettings, processes: int) -> CoordinatorSettings:
    """The settings of each of ``processes`` server processes on one host.

    PostgreSQL joins the processes' wake-ups (``LISTEN/NOTIFY``); SQLite has no such
    channel, so a job queued at one process wakes no pop waiting at another until that
    one's recheck. At the default (15 s) that was the multi-second tail of
    ``dispatch.py --processes 3`` (p99 5–12 s); the recheck reads the queue once for all
    of a process's waiters, so every quarter second costs little."""
    if processes == 1 or relays_wakeups(settings.db_url()):
        return settings
    recheck_s = min(settings.pop_recheck_s, SHARED_RECHECK_S)
    return settings.model_copy(update={"pop_recheck_s": recheck_s})


def prepare(settings: CoordinatorSettings) -> None:
    """What must happen once before any server process starts: check the economics,
    migrate, make the blob pack and the key.

    Server processes started side by side would otherwise race to create them.
    """
    check_settings(settings, load_registry(settings.registry))
    open_store(settings).dispose()
    if settings.blob_store == "files":
        FileBlobStore(settings.blob_dir).prepare()
    load_or_create(settings.key_path)


def build_services(
    settings: CoordinatorSettings,
    *,
    store: Store | None = None,
    blobs: BlobStore | None = None,
    clock: Clock | None = None,
    chain: ChainSettings | None = None,
) -> Services:
    """Wire the services; ``store``, ``blobs`` and ``clock`` replace the real ones (tests).

    ``chain`` defaults to the ``SWARMGEN_CHAIN_*`` environment; with a chain, the stake
    that lets a key serve and weighs the draw is read from the contract."""
    chain = chain if chain is not None else ChainSettings()
    stakes = stake_source(chain)
    registry = load_registry(settings.registry)
    check_settings(settings, registry)
    settings.data.mkdir(parents=True, exist_ok=True)
    store = store or open_store(settings)
    with store.transaction() as tx:  # jobs keep their place; a new aging moves them all
        moved = tx.dispatch.rekey(settings.aging_points_per_s)
    if moved:
        log.warning(
            "aging is now %d points/s: placed %d jobs again", settings.aging_points_per_s, moved
        )
    blobs = blobs or open_blobs(settings)
    clock = clock or SystemClock()
    notifier = notifier_for(store)
    verifier = (
        Verifier(
            registry,
            blobs,
            escalation=EscalationPolicy(settings.panel_stages),
            min_stake=settings.min_stake,
            max_missed_seats=settings.max_missed_seats,
            lease_max_factor=settings.lease_max_factor,
            economics=None if settings.trusted_workers else terms_of(settings, registry),
            stakes=stakes,
        )
        if settings.verify
        else None
    )
    credits = CreditService(
        settings=CreditSettings.of(settings),
        store=store,
        registry=registry,
        clock=clock,
    )
    keys = load_or_create(settings.key_path)
    dispatch = DispatchSettings.of(settings)  # the worker service's and the reaper's
    return Services(
        store=store,
        blobs=blobs,
        registry=registry,
        clock=clock,
        notifier=notifier,
        credits=credits,
        jobs=JobService(
            settings=JobSettings.of(settings),
            store=store,
            blobs=blobs,
            registry=registry,
            clock=clock,
            notifier=notifier,
            credits=credits,
        ),
        workers=WorkerService(
            settings=dispatch,
            store=store,
            blobs=blobs,
            registry=registry,
            clock=clock,
            notifier=notifier,
            verifier=verifier,
            stakes=stakes,
        ),
        reaper=Reaper(
            settings=dispatch,
            store=store,
            clock=clock,
            notifier=notifier,
            verifier=verifier,
        ),
        epochs=EpochService(
            settings=EpochSettings.of(settings),
            store=store,
            registry=registry,
            clock=clock,
            keys=keys,
        ),
        verifier=verifier,
        chain=chain,
    )


def leadership(services: Services, settings: CoordinatorSettings) -> Leadership:
    """The lock that elects this deployment's leader (taken only once the app starts)."""
    return leadership_for(services.store, settings.data)


IDEMPOTENCY_PRUNE_S = 60.0
"""How often expired idempotency keys are deleted (lookups ignore them meanwhile)."""


def periodic_tasks(services: Services, settings: CoordinatorSettings) -> list[PeriodicTask]:
    """The coordinator's background work; each runs once per deployment, in the leader.

    With a chain configured (``SWARMGEN_CHAIN_*``), epoch closes owe their seal and
    slashes to it and the ``chain-outbox`` task posts them (:mod:`swarmgen.chain.wiring`).
    """
    tasks = [
        PeriodicTask(
            "lease-reaper",
            settings.reap_interval_s,
            settings.reap_timeout_s,
            services.reaper.reap,
            leader_only=True,
        ),
        PeriodicTask(
            "epoch-closer",
            settings.epoch_check_s,
            settings.epoch_close_timeout_s,
            services.epochs.close_due,
            leader_only=True,
        ),
        PeriodicTask(
            "idempotency-pruner",
            IDEMPOTENCY_PRUNE_S,
            IDEMPOTENCY_PRUNE_S,
            services.jobs.prune_idempotency_keys,
            leader_only=True,
        ),
    ]
    chain = chain_task(services.epochs, services.store, services.clock, services.chain)
    return tasks if chain is None else [*tasks, chain]
