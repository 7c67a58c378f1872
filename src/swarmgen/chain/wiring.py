"""How a running coordinator takes the chain on: where its services are built.

:func:`stake_source` gives every process the stake it weighs workers by: the chain's
(:class:`swarmgen.chain.stake.ChainStakes`) when one is configured, else the ledger's.
``chain_task(services.epochs, services.store, services.clock, settings)`` turns the
outbox on for the epoch service and returns the leader-only ``chain-outbox`` periodic
task that drains it; with no chain configured it changes nothing and returns ``None``.
web3 is imported only when a chain is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swarmgen.chain.settings import ChainSettings
from swarmgen.clock import Clock
from swarmgen.coordinator.stakes import LedgerStakes, StakeSource
from swarmgen.coordinator.tasks import PeriodicTask
from swarmgen.store.port import Store

if TYPE_CHECKING:
    from swarmgen.chain.evm import EvmChain
    from swarmgen.coordinator.epochs import EpochService


def _view(settings: ChainSettings, private_key: str | None) -> EvmChain:
    from web3 import Web3

    from swarmgen.chain.evm import EvmChain

    assert settings.rpc_url is not None and settings.contract is not None
    w3 = Web3(Web3.HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 10.0}))
    return EvmChain(w3, settings.contract, private_key, from_block=settings.from_block)


def stake_source(settings: ChainSettings) -> StakeSource:
    """The chain's stake when a chain is configured (read only: no key needed), else the
    ledger's. Nothing is read until a worker pops: a node that is down at start delays
    no one but the workers it would weigh."""
    if not settings.enabled:
        return LedgerStakes()
    from swarmgen.chain.stake import ChainStakes

    return ChainStakes(
        _view(settings, None),
        units_per_micro=settings.units_per_micro_credit,
        cache_s=settings.stake_cache_s,
        lag_s=settings.stake_pin_lag_s,
    )


def chain_task(
    epochs: EpochService, store: Store, clock: Clock, settings: ChainSettings
) -> PeriodicTask | None:
    """The outbox drain as a periodic task, or ``None`` when no chain is configured."""
    if not settings.enabled:
        return None
    if settings.private_key is None:
        raise ValueError("SWARMGEN_CHAIN_PRIVATE_KEY is needed to post to the chain")
    from swarmgen.chain.evm import EvmChain, connect
    from swarmgen.chain.outbox import ChainOutbox

    assert settings.rpc_url is not None and settings.contract is not None
    chain = EvmChain(
        connect(settings.rpc_url),
        settings.contract,
        settings.private_key,
        from_block=settings.from_block,
    )
    epochs.chain_outbox = True
    outbox = ChainOutbox(store, chain, clock)
    return PeriodicTask(
        "chain-outbox",
        settings.outbox_interval_s,
        max(30.0, settings.outbox_interval_s * 6),
        outbox.drain,
        leader_only=True,
    )
