"""Worker settings, built once in the entry point (env prefix ``SWARMGEN_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ByteSize, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    """Every knob of a worker; each field can be set as ``SWARMGEN_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SWARMGEN_", extra="ignore")

    data: Path = Field(Path("./swarmgen-data"), description="Data folder: the worker's key.")
    coordinator_url: str = Field("http://127.0.0.1:8787", description="Coordinator base URL.")
    models: list[str] = Field(
        default_factory=list,
        description="Offerings, name@precision; a bare name serves its best tier that fits memory.",
    )
    memory: ByteSize | None = Field(
        None,
        description="Memory for models, e.g. 1GB: only offerings whose measured footprint "
        "fits are served, and the coordinator is told (default: not declared, no limit).",
    )
    name: str = Field("worker", description="Worker name; also names its key file.")
    owner_key: str | None = Field(None, description="API key of the user who gets paid.")
    stake: int = Field(
        0,
        ge=0,
        description="Micro-credits to keep locked behind this worker: at start it locks what "
        "is missing from its owner's balance (a coordinator serves only staked workers).",
    )
    threads: int = Field(2, ge=1, description="torch threads for the backends.")
    max_batch: int = Field(4, ge=1, le=64, description="Most jobs leased per pop.")
    max_pixels: int = Field(512 * 512, ge=1, description="Largest image (width x height).")
    pop_wait_s: float = Field(
        50.0, ge=0, description="Long-poll length of one pop (the coordinator may cap it)."
    )
    heartbeat_s: float = Field(5.0, gt=0, description="Seconds between heartbeats.")
    registry: Path | None = Field(None, description="Model registry TOML (default: shipped).")
    cache: Path | None = Field(None, description="Converted-model cache (default: DATA/cache).")

    @property
    def key_path(self) -> Path:
        return self.data / f"worker-{self.name}.key"

    @property
    def cache_dir(self) -> Path:
        return self.cache or self.data / "cache"
