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

    @property
    def enabled(self) -> bool:
        return bool(self.rpc_url and self.contract)
