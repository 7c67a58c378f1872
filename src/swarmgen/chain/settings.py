"""Where the chain is: off unless an RPC URL and a contract address are given."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ChainSettings(BaseSettings):
    """Environment prefix ``SWARMGEN_CHAIN_``; with no ``rpc_url`` nothing touches a chain."""

    model_config = SettingsConfigDict(env_prefix="SWARMGEN_CHAIN_", extra="forbid")

    rpc_url: str | None = Field(default=None, description="EVM JSON-RPC URL; unset: no chain.")
    contract: str | None = Field(default=None, description="SwarmgenStake contract address.")
    private_key: str | None = Field(
        default=None,
        description="Hex private key of the account that sends (coordinator or stake owner).",
    )
    outbox_interval_s: float = Field(default=5.0, gt=0, description="Seconds between drains.")
    units_per_micro_credit: int = Field(
        default=10**12,
        gt=0,
        description="Chain units (wei) of stake per micro-credit of the coordinator's stake "
        "rules (min_stake, draw weights); the default makes one coin one credit.",
    )
    stake_cache_s: float = Field(
        default=10.0, ge=0, description="Seconds a reading of a worker's current stake is reused."
    )
    stake_pin_lag_s: int = Field(
        default=15,
        ge=0,
        description="An epoch's draw reads stake at the last block this many seconds "
        "before the epoch opened (more than the chain's clock trails the coordinator's).",
    )
    from_block: int = Field(
        default=0, ge=0, description="Block where event scans start (the contract's deployment)."
    )

    @property
    def enabled(self) -> bool:
        return bool(self.rpc_url and self.contract)
