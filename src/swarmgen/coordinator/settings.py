"""Coordinator settings, built once in the entry point (env prefix ``SWARMGEN_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CoordinatorSettings(BaseSettings):
    """Every knob of a coordinator; each field can be set as ``SWARMGEN_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SWARMGEN_", extra="ignore")

    data: Path = Field(Path("./swarmgen-data"), description="Data folder: database, blobs, keys.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is SQLite at DATA/swarmgen.db."
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8787, description="Port the HTTP server listens on.")
    registry: Path | None = Field(
        None, description="Model registry TOML; default is the one shipped with swarmgen."
    )
    lease_min_s: int = Field(15, ge=1, description="Shortest lease a job gets, in seconds.")
    max_attempts: int = Field(5, ge=1, description="Lease expiries before a job fails.")
    reap_interval_s: float = Field(1.0, gt=0, description="How often expired leases are reaped.")
    pop_wait_max_s: float = Field(30.0, ge=0, description="Longest long-poll of a worker pop.")
    result_wait_max_s: float = Field(60.0, ge=0, description="Longest long-poll of a status.")
    max_body_bytes: int = Field(64 * 1024, description="Largest requester request body.")
    max_worker_body_bytes: int = Field(
        32 * 1024 * 1024, description="Largest worker request body (results carry images)."
    )
    clock_skew_s: int = Field(60, description="Accepted skew of signed request timestamps.")

    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data / 'swarmgen.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.data / "blobs"
