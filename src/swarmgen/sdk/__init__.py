"""Python clients for swarmgen: requesters (sync and async) and workers (signed)."""

from swarmgen.sdk.client import AsyncClient, Client, SwarmgenAPIError, image_job, text_job
from swarmgen.sdk.worker_client import WorkerClient

__all__ = ["AsyncClient", "Client", "SwarmgenAPIError", "WorkerClient", "image_job", "text_job"]
