"""How a running coordinator takes the chain on: one call where its services are built.

``chain_task(services.epochs, services.store, services.clock, ChainSettings())`` turns
the outbox on for the epoch service and returns the leader-only ``chain-outbox``
periodic task that drains it; with no chain configured it changes nothing and returns
``None``. web3 is imported only when a chain is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swarmgen.chain.settings import ChainSettings
from swarmgen.clock import Clock
from swarmgen.coordinator.tasks import PeriodicTask
from swarmgen.store.port import Store

if TYPE_CHECKING:
    from swarmgen.coordinator.epochs import EpochService


def chain_task(
    epochs: EpochService, store: Store, clock: Clock, settings: ChainSettings
) -> PeriodicTask | None:
    """The outbox drain as a periodic task, or ``None`` when no chain is configured."""
    if not settings.enabled or settings.rpc_url is None or settings.contract is None:
        return None
    if settings.private_key is None:
        raise ValueError("SWARMGEN_CHAIN_PRIVATE_KEY is needed to post to the chain")
    from swarmgen.chain.evm import EvmChain, connect
    from swarmgen.chain.outbox import ChainOutbox

    chain = EvmChain(connect(settings.rpc_url), settings.contract, settings.private_key)
    epochs.chain_outbox = True
    outbox = ChainOutbox(store, chain, clock)
    return PeriodicTask(
        "chain-outbox",
        settings.outbox_interval_s,
        max(30.0, settings.outbox_interval_s * 6),
        outbox.drain,
        leader_only=True,
    )
