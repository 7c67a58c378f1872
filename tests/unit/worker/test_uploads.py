"""Result uploads: batches that wait behind a request in flight go together, within bounds."""

from __future__ import annotations

import threading

import pytest

from swarmgen.protocol import ResultIn
from swarmgen.worker import uploads
from swarmgen.worker.uploads import Batch, Uploads

WAIT_S = 5.0


def results(prefix: str, count: int, image_bytes: int = 0) -> list[ResultIn]:
    images = ["A" * image_bytes] if image_bytes else None
    return [ResultIn.model_construct(job_id=f"{prefix}{i}", images=images) for i in range(count)]


class Gate:
    """A send that records each request's jobs and holds it until let go."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.started = threading.Semaphore(0)
        self.go = threading.Event()

    def send(self, batches: list[Batch]) -> None:
        self.requests.append([job_id for batch in batches for job_id in batch.job_ids])
        self.started.release()
        assert self.go.wait(WAIT_S)


def in_flight(gate: Gate, *, most_jobs: int = 64) -> Uploads:
    """Uploads whose first request (``a0``) is on its way, held by ``gate``."""
    queue = Uploads(gate.send, most_jobs=most_jobs)
    queue.put(results("a", 1))
    assert gate.started.acquire(timeout=WAIT_S)
    return queue


def put_later(queue: Uploads, batch: list[ResultIn]) -> threading.Thread:
    """``put`` in a thread of its own, for a put that may have to wait."""
    thread = threading.Thread(target=queue.put, args=(batch,))
    thread.start()
    return thread


def test_a_lone_batch_leaves_at_once() -> None:
    gate = Gate()
    queue = Uploads(gate.send)
    queue.put(results("a", 3))
    assert gate.started.acquire(timeout=WAIT_S)  # nothing waits for company
    gate.go.set()
    queue.close()
    assert gate.requests == [["a0", "a1", "a2"]]


def test_batches_waiting_behind_a_request_go_together_in_order() -> None:
    gate = Gate()
    queue = in_flight(gate)
    queue.put(results("b", 2))
    queue.put(results("c", 2))
    gate.go.set()
    queue.close()
    assert gate.requests == [["a0"], ["b0", "b1", "c0", "c1"]]


def test_put_waits_while_two_batches_wait() -> None:
    gate = Gate()
    queue = in_flight(gate)
    queue.put(results("b", 1))
    queue.put(results("c", 1))
    later = put_later(queue, results("d", 1))
    later.join(0.2)
    assert later.is_alive()  # the worker computes no further ahead
    gate.go.set()
    later.join(WAIT_S)
    assert not later.is_alive()
    queue.close()
    assert gate.requests[:2] == [["a0"], ["b0", "c0"]]
    assert gate.requests[2:] == [["d0"]]


def test_put_waits_while_a_full_request_waits_and_a_request_never_overfills() -> None:
    gate = Gate()
    queue = in_flight(gate, most_jobs=4)
    queue.put(results("b", 3))
    queue.put(results("c", 2))  # 5 jobs wait: more than one request carries
    later = put_later(queue, results("d", 1))
    later.join(0.2)
    assert later.is_alive()
    gate.go.set()
    later.join(WAIT_S)
    queue.close()
    assert gate.requests[:2] == [["a0"], ["b0", "b1", "b2"]]  # c would overfill it
    assert [job for request in gate.requests[2:] for job in request] == ["c0", "c1", "d0"]
    assert all(len(request) <= 4 for request in gate.requests)


def test_images_bound_what_one_request_gathers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "IMAGE_BYTES", 1000)
    gate = Gate()
    queue = in_flight(gate)
    queue.put(results("big", 2, image_bytes=700))  # over the bound alone: sent, alone
    later = put_later(queue, results("s", 1, image_bytes=100))  # waits: the bound is full
    later.join(0.2)
    assert later.is_alive()
    gate.go.set()
    later.join(WAIT_S)
    queue.close()
    assert gate.requests == [["a0"], ["big0", "big1"], ["s0"]]


def test_close_sends_what_is_waiting_and_a_failed_send_stops_nothing() -> None:
    gate = Gate()

    def send(batches: list[Batch]) -> None:
        gate.send(batches)
        if batches[0].job_ids == ["a0"]:
            raise RuntimeError("the coordinator is gone")

    queue = Uploads(send)
    queue.put(results("a", 1))
    assert gate.started.acquire(timeout=WAIT_S)
    queue.put(results("b", 1))
    queue.put(results("c", 1))
    closing = threading.Thread(target=queue.close)
    closing.start()
    gate.go.set()
    closing.join(WAIT_S)
    assert not closing.is_alive()
    assert gate.requests == [["a0"], ["b0", "c0"]]
    with pytest.raises(RuntimeError, match="closed"):
        queue.put(results("d", 1))
