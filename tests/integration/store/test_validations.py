"""Settling a check is one write: status, penalties and withdrawn seats move together."""

from __future__ import annotations

from tests.integration.store.rows import job

from swarmgen.core.jobs import JobState
from swarmgen.store import Store
from swarmgen.store.records import CheckStatus


def test_settle_records_the_status_penalises_and_withdraws_open_seats(store: Store) -> None:
    with store.transaction() as tx:
        tx.validations.open_check("c1", "claimant", "echo-image@fp32", epoch=0, now=0)
        tx.jobs.insert(
            [
                job("queued", validates="c1", exclude_worker="claimant"),
                job("leased", validates="c1", state=JobState.LEASED, worker_id="v3"),
                job("done", validates="c1", state=JobState.COMPLETED, worker_id="v1"),
            ]
        )
        for validator, vote in (("v1", "agree"), ("v2", "disagree")):
            tx.validations.add_ballot(
                "c1", validator, f"seat-{validator}", vote=vote, reason="r", detail="",
                distance=0.5, epoch=0, now=1,
            )  # fmt: skip
        assert tx.validations.outstanding("c1") == 2
        tx.validations.settle(
            "c1", CheckStatus.UPHELD, epoch=1, reason="agree", now=5, penalised=["v2"]
        )
    with store.transaction() as tx:
        check = tx.validations.get_check("c1")
        assert check is not None and check.status is CheckStatus.UPHELD
        assert (check.decided_epoch, check.reason) == (1, "agree")
        assert [(b.validator_id, b.penalised) for b in tx.validations.ballots("c1")] == [
            ("v1", False),
            ("v2", True),
        ]
        assert tx.validations.outstanding("c1") == 0
        states = {j.id: j.state for j in tx.jobs.get_many(["queued", "leased", "done"])}
        assert states == {
            "queued": JobState.CANCELLED,
            "leased": JobState.CANCELLED,
            "done": JobState.COMPLETED,
        }
        assert tx.validations.pending_checks() == []
        assert [c.job_id for c in tx.validations.decided_in(1)] == ["c1"]


def test_a_validator_votes_once_per_claim(store: Store) -> None:
    with store.transaction() as tx:
        ballot = dict(vote="agree", reason="r", detail="", distance=float("nan"), epoch=0, now=0)
        assert tx.validations.add_ballot("c1", "v1", "s1", **ballot)  # type: ignore[arg-type]
        assert not tx.validations.add_ballot("c1", "v1", "s2", **ballot)  # type: ignore[arg-type]
        (only,) = tx.validations.ballots("c1")
        assert only.distance is None  # a non-finite distance is not stored
