"""The worker's bookkeeping around result uploads, with stand-in clients (no server)."""

from __future__ import annotations

from typing import Any, cast

from swarmgen.backends.base import Backend
from swarmgen.core.jobs import Job, TextSpec
from swarmgen.core.offerings import Offering
from swarmgen.protocol import Assignment, ResultIn
from swarmgen.sdk.client import SwarmgenAPIError
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.worker.daemon import Worker
from swarmgen.worker.uploads import Batch


def batch(*job_ids: str) -> Batch:
    return Batch([ResultIn.model_construct(job_id=job_id) for job_id in job_ids])


class Client:
    """Answers submissions as told; records requests and hand-backs."""

    def __init__(self, refuse: set[str] | None = None, fail: bool = False) -> None:
        self.worker: Worker | None = None
        self.requests: list[list[str]] = []
        self.released: list[str] = []
        self.refuse = refuse or set()
        self.fail = fail
        self.stop_on_submit = False

    def submit(self, results: list[ResultIn]) -> dict[str, Any]:
        job_ids = [result.job_id for result in results]
        self.requests.append(job_ids)
        if self.stop_on_submit:
            assert self.worker is not None
            self.worker.stop.set()
        if self.fail:
            raise ValueError("an answer that is not JSON")
        if self.refuse & set(job_ids):  # one bad result spoils the request, as a 422 does
            error = {"code": "invalid_request", "message": "a result is malformed"}
            raise SwarmgenAPIError(422, {"error": error})
        return {"accepted": job_ids, "rejected": []}

    def release(self, job_ids: list[str], error: str | None = None) -> None:
        self.released += job_ids


def worker_with(client: Client, *held: str) -> Worker:
    worker = Worker(cast(WorkerClient, client), {}, "w", max_pixels=4096, max_batch=1)
    client.worker = worker
    worker.held.update(held)
    return worker


def test_an_answered_upload_counts_even_when_stop_arrives_meanwhile() -> None:
    client = Client()
    client.stop_on_submit = True
    worker = worker_with(client, "a", "b")
    worker._upload([batch("a", "b")])
    worker.hand_back()
    assert worker.completed == 2
    assert client.released == []  # submitted results are not handed back as unfinished


def test_a_merged_request_refused_as_a_whole_is_sent_again_batch_by_batch() -> None:
    client = Client(refuse={"c"})
    worker = worker_with(client, "a", "b", "c")
    worker._upload([batch("a", "b"), batch("c")])
    assert client.requests == [["a", "b", "c"], ["a", "b"], ["c"]]
    assert worker.completed == 2  # a and b; c's request was refused
    assert client.released == ["c"]  # handed back at once, not left to its lease
    assert worker.held == set()


def test_a_failed_send_gives_its_jobs_back() -> None:
    client = Client(fail=True)
    worker = worker_with(client, "a", "b", "x")
    worker._upload([batch("a"), batch("b")])
    assert client.released == ["a", "b"]
    assert worker.completed == 0
    assert worker.held == {"x"}  # what was not in the request is still held


def test_a_stop_before_the_answer_leaves_the_jobs_for_hand_back() -> None:
    client = Client()
    worker = worker_with(client, "a", "b")
    worker.stop.set()  # the retry loop gives up before sending
    worker._upload([batch("a"), batch("b")])
    assert worker.held == {"a", "b"} and worker.completed == 0
    worker.hand_back()
    assert sorted(client.released) == ["a", "b"]


class Failing:
    """A backend whose every batch fails."""

    offering = Offering.parse("echo-text@fp32")
    max_batch = 4

    def load(self) -> None:
        return None

    def run(self, jobs: object) -> list[object]:
        raise RuntimeError("out of memory")


def test_a_failed_backend_batch_is_handed_back_and_not_counted() -> None:
    client = Client()
    backends = cast(dict[Offering, Backend], {Failing.offering: Failing()})
    worker = Worker(cast(WorkerClient, client), backends, "w", max_pixels=4096, max_batch=4)
    spec = TextSpec(prompt="hi", seed=1)
    job = Job("t1", Failing.offering, spec)
    assignment = Assignment(
        job_id="t1",
        model=str(Failing.offering),
        spec=spec.canonical(),
        input_digest=job.input_digest(),
        lease_expires_ms=1,
    )
    worker.serve([assignment.model_dump()])
    worker.hand_back()
    assert client.requests == []  # nothing to submit
    assert client.released == ["t1"] and worker.completed == 0 and worker.held == set()
