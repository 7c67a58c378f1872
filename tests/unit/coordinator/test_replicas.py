"""What the relay between replicas carries: offerings with counts, drawn workers, job ids."""

from __future__ import annotations

from swarmgen.coordinator.notify import EVERYTHING, Queued
from swarmgen.coordinator.replicas import queued_of, topics_of
from swarmgen.store.wakeups import MAX_PAYLOAD, QUEUE, packed, unpacked


def test_a_queue_change_travels_as_offerings_counts_and_workers() -> None:
    queued = Queued(jobs={"echo-image@fp32": 3, "x@int8": 1}, workers=frozenset({"k1"}))
    topics = {**topics_of(queued), "0" * 32: 1}
    (payload,) = packed("origin", topics)
    assert payload.split()[1] == "q/echo-image@fp32*3"
    back, jobs = queued_of(unpacked(payload.split()[1:]))
    assert back == queued and jobs == ["0" * 32]
    assert queued_of({QUEUE: 1})[0] == EVERYTHING
    assert topics_of(EVERYTHING) == {QUEUE: 1}


def test_counts_of_a_topic_published_often_add_up_across_payloads() -> None:
    topics = {f"q/model-{i}@fp32": i + 1 for i in range(800)}
    payloads = packed("origin", topics)
    assert len(payloads) > 1 and all(len(p) <= MAX_PAYLOAD for p in payloads)
    back = sum((unpacked(p.split()[1:]) for p in payloads), start=unpacked([]))
    assert back == topics
