"""Result uploads: batches that wait behind a request in flight go together, within bounds."""

from __future__ import annotations

import threading

import pytest

from swarmgen.protocol import ResultIn
from swarmgen.worker import uploads
from swarmgen.worker.uploads import Uploads

WAIT_S = 5.0


def results(prefix: str, count: int, image_bytes: int = 0) -> list[ResultIn]:
    images = ["A" * image_bytes] if image_bytes else None
    return [ResultIn.model_construct(job_id=f"{prefix}{i}", images=images) for i in range(count)]


def ids(batch: list[ResultIn]) -> list[str]:
    return [result.job_id for result in batch]


class Gate:
    """A send that records each request and holds it until let go."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.started = threading.Semaphore(0)
        self.go = threading.Event()

    def send(self, job_ids: list[str], sent: list[ResultIn]) -> None:
        assert job_ids == ids(sent)
        self.requests.append(job_ids)
        self.started.release()
        assert self.go.wait(WAIT_S)


def test_a_lone_batch_leaves_at_once() -> None:
    gate = Gate()
    queue = Uploads(gate.send)
    queue.put(ids(first := results("a", 3)), first)
    assert gate.started.acquire(timeout=WAIT_S)  # nothing waits for company
    gate.go.set()
    queue.close()
    assert gate.requests == [["a0", "a1", "a2"]]


def test_batches_waiting_behind_a_request_go_together_in_order() -> None:
    gate = Gate()
    queue = Uploads(gate.send)
    for prefix in "abc":
        batch = results(prefix, 2)
        queue.put(ids(batch), batch)
        if prefix == "a":
            assert gate.started.acquire(timeout=WAIT_S)  # a is in flight; b and c wait
    gate.go.set()
    queue.close()
    assert gate.requests == [["a0", "a1"], ["b0", "b1", "c0", "c1"]]


def test_a_request_carries_at_most_its_share_of_jobs() -> None:
    gate = Gate()
    queue = Uploads(gate.send, most_jobs=5)
    first = results("a", 1)
    queue.put(ids(first), first)
    assert gate.started.acquire(timeout=WAIT_S)
    for prefix in "bcd":  # 2 + 2 fit in 5; the third pair goes next
        batch = results(prefix, 2)
        queue.put(ids(batch), batch)
    gate.go.set()
    queue.close()
    assert [len(request) for request in gate.requests] == [1, 4, 2]


def test_images_bound_what_one_request_gathers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "IMAGE_BYTES", 1000)
    gate = Gate()
    queue = Uploads(gate.send)
    first = results("a", 1)
    queue.put(ids(first), first)
    assert gate.started.acquire(timeout=WAIT_S)
    big = results("big", 2, image_bytes=700)  # over the bound alone: still sent, alone
    small = results("s", 1, image_bytes=400)
    queue.put(ids(big), big)
    gate.go.set()
    queue.put(ids(small), small)
    queue.close()
    assert gate.requests == [["a0"], ["big0", "big1"], ["s0"]]


def test_put_waits_while_a_full_request_is_waiting() -> None:
    gate = Gate()
    queue = Uploads(gate.send, most_jobs=4)
    first = results("a", 1)
    queue.put(ids(first), first)
    assert gate.started.acquire(timeout=WAIT_S)
    full = results("b", 4)
    queue.put(ids(full), full)  # a full request waits behind a0
    later = results("c", 1)
    put = threading.Thread(target=queue.put, args=(ids(later), later))
    put.start()
    put.join(0.2)
    assert put.is_alive()  # the worker computes no further ahead
    gate.go.set()
    put.join(WAIT_S)
    assert not put.is_alive()
    queue.close()
    assert gate.requests == [["a0"], ["b0", "b1", "b2", "b3"], ["c0"]]


def test_close_sends_what_is_waiting_and_a_failed_send_stops_nothing() -> None:
    gate = Gate()

    def send(job_ids: list[str], sent: list[ResultIn]) -> None:
        gate.send(job_ids, sent)
        if job_ids[0] == "a0":
            raise RuntimeError("the coordinator is gone")

    queue = Uploads(send)
    first = results("a", 1)
    queue.put(ids(first), first)
    assert gate.started.acquire(timeout=WAIT_S)
    for prefix in "bc":
        batch = results(prefix, 1)
        queue.put(ids(batch), batch)
    closing = threading.Thread(target=queue.close)
    closing.start()
    gate.go.set()
    closing.join(WAIT_S)
    assert not closing.is_alive()
    assert gate.requests == [["a0"], ["b0", "c0"]]
    with pytest.raises(RuntimeError, match="closed"):
        queue.put(["d0"], results("d", 1))
