"""Rows the store tests insert: a job with only the fields a test cares about."""

from __future__ import annotations

from typing import Any

from swarmgen.core.jobs import JobState
from swarmgen.core.scheduling import queue_key
from swarmgen.store.records import SYSTEM_USER, JobRecord


def job(job_id: str, **fields: Any) -> JobRecord:
    """A queued echo-image job owned by the system user, with ``fields`` changed; its
    queue key is its priority and age's with ``aging_per_s`` (none unless given)."""
    aging = fields.pop("aging_per_s", 0)
    values: dict[str, Any] = dict(
        id=job_id,
        user_id=SYSTEM_USER,
        kind="image",
        offering="echo-image@fp32",
        spec={"prompt": "x"},
        input_digest="0" * 64,
        pixels=64 * 64,
        priority=0,
        price=0,
        lease_ttl_s=30,
        state=JobState.QUEUED,
        created_ms=0,
        updated_ms=0,
    )
    values.update(fields)
    values.setdefault("queue_key", queue_key(values["priority"], values["created_ms"], aging))
    return JobRecord(**values)
