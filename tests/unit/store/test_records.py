"""Job records read from rows (a full row, and every other row as ``__init__`` takes it)
and copied with changes."""

from __future__ import annotations

from dataclasses import MISSING, fields, replace
from types import SimpleNamespace
from typing import Any

import pytest

from swarmgen.core.jobs import JobState
from swarmgen.store.records import JobRecord


def row(**values: Any) -> Any:
    return SimpleNamespace(_mapping=values)


def full_row() -> dict[str, Any]:
    values: dict[str, Any] = {f.name: None for f in fields(JobRecord)}
    values |= {
        "id": "j", "user_id": "u", "kind": "text", "offering": "echo-text@fp32",
        "spec": {"prompt": "p"}, "input_digest": "0" * 64, "pixels": 0, "priority": 0,
        "price": 5, "lease_ttl_s": 60, "state": "leased", "created_ms": 1, "updated_ms": 2,
        "queue_key": 3, "attempts": 1, "worker_id": "w", "change_seq": 9,
    }  # fmt: skip
    return values


def test_a_full_row_reads_as_init_builds_it() -> None:
    values = full_row()
    record = JobRecord.from_row(row(**values))
    assert record == JobRecord(**(values | {"state": JobState.LEASED}))
    assert record.state is JobState.LEASED
    assert record.spec == {"prompt": "p"} and record.change_seq == 9
    with pytest.raises(AttributeError):  # still frozen
        record.state = JobState.QUEUED  # type: ignore[misc]


def test_other_rows_go_through_init() -> None:
    values = full_row()
    del values["change_seq"]  # optional: its default
    assert JobRecord.from_row(row(**values)).change_seq is None
    del values["price"]  # required: refused
    with pytest.raises(TypeError):
        JobRecord.from_row(row(**values))
    with pytest.raises(TypeError):  # a column the record has no field for
        JobRecord.from_row(row(**full_row(), extra=1))
    renamed = full_row()
    renamed["cost"] = renamed.pop("price")  # as many columns, one of another name
    with pytest.raises(TypeError):
        JobRecord.from_row(row(**renamed))


def test_a_record_has_nothing_init_would_add() -> None:
    """The full-row path skips ``__init__``: that is sound while it would only assign."""
    assert not hasattr(JobRecord, "__post_init__")
    assert all(f.default_factory is MISSING for f in fields(JobRecord))


def test_evolve_copies_as_replace_does_and_leaves_the_original() -> None:
    record = JobRecord.from_row(row(**full_row()))
    changes: dict[str, Any] = {"state": JobState.COMPLETED, "outputs": ["k"], "payment": "paid"}
    copy = record.evolve(**changes)
    assert copy == replace(record, **changes) and copy is not record
    assert record.state is JobState.LEASED and record.outputs is None  # untouched
    assert copy.evolve() == copy
    with pytest.raises(AttributeError):  # still frozen
        copy.state = JobState.QUEUED  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field cost"):  # a name that is not a field
        record.evolve(cost=1)
