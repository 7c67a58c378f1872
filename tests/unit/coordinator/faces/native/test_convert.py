"""The native face's views copy flat fields (``vars``), as ``asdict`` would have."""

from __future__ import annotations

from dataclasses import asdict

from swarmgen.coordinator.domain import Accepted, JobStatus
from swarmgen.coordinator.faces.native import convert


def test_views_copy_what_asdict_would() -> None:
    status = JobStatus(
        id="j", kind="text", model="echo-text@fp32", state="completed", created_ms=1,
        updated_ms=2, seed=3, price=4, payment="paid", queue_position=None, worker_id="w",
        seconds=1.5, outputs=1, has_result=True, error=None, change_seq=9,
    )  # fmt: skip
    accepted = Accepted(id="j", state="queued", queue_position=0, price=4, payment="reserved",
                        seed=3)  # fmt: skip
    for flat in (status, accepted):
        assert dict(vars(flat)) == asdict(flat)  # no nested value asdict would convert
    view = convert.job_view(status, "/api/v1/jobs")
    assert view.result_url == "/api/v1/jobs/j/result" and view.change_seq == 9
    assert convert.accepted(accepted).model_dump() == asdict(accepted)
