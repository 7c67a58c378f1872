"""The worker's bookkeeping around a result upload, with a stand-in client (no server)."""

from __future__ import annotations

from typing import Any, cast

from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.worker.daemon import Worker


class StoppingClient:
    """Accepts every result, but a stop signal arrives while the request is in flight."""

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self.released: list[str] = []

    def submit(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        assert self.worker is not None
        self.worker.stop.set()
        return {"accepted": [r["job_id"] for r in results], "rejected": []}

    def release(self, job_ids: list[str]) -> None:
        self.released += job_ids


def test_an_answered_upload_counts_even_when_stop_arrives_meanwhile() -> None:
    client = StoppingClient()
    worker = Worker(cast(WorkerClient, client), {}, "w", max_pixels=4096, max_batch=1)
    client.worker = worker
    worker.held.update({"a", "b"})
    worker._upload(["a", "b"], [{"job_id": "a"}, {"job_id": "b"}])
    worker.hand_back()
    assert worker.completed == 2
    assert client.released == []  # submitted results are not handed back as unfinished
