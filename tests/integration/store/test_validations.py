"""Settling a check is one write: status, penalties and withdrawn seats move together."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.store.rows import job

from swarmgen.core.jobs import JobState
from swarmgen.core.verification.reliability import SeatRecord
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
        # the queued seat is withdrawn; the leased one runs on (taking it back from its
        # worker would tell the worker it held a seat)
        assert tx.validations.outstanding("c1") == 1
        states = {j.id: j.state for j in tx.jobs.get_many(["queued", "leased", "done"])}
        assert states == {
            "queued": JobState.CANCELLED,
            "leased": JobState.LEASED,
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


def _ballot(tx: Any, claim: str, validator: str, epoch: int) -> None:
    tx.validations.add_ballot(
        claim,
        validator,
        f"v-{claim}-{validator}",
        vote="agree",
        reason="",
        detail="",
        distance=None,
        epoch=epoch,
        now=0,
    )


def test_missed_seats_of_the_open_epoch_are_counted_in_one_question(store: Store) -> None:
    """What every pop asks: none before the first epoch opens, then the open epoch's
    only (a closed epoch's misses no longer count)."""
    with store.transaction() as tx:
        assert tx.validations.record_miss("s1", "w0", "c1", epoch=0, now=5)
        assert tx.validations.record_miss("s2", "w0", "c2", epoch=1, now=6)
        assert tx.validations.missed_count("w0") == 0  # no epoch is open yet
    with store.transaction(0, ledger=True):
        pass  # the ledger's first transaction opens epoch 0
    with store.transaction() as tx:
        assert tx.validations.missed_count("w0") == 1
        assert tx.validations.missed_count("w1") == 0


def test_missed_seats_are_counted_per_epoch_once_each_and_apart_from_ballots(
    store: Store,
) -> None:
    with store.transaction() as tx:
        assert tx.validations.record_miss("s1", "w0", "c1", epoch=1, now=5)
        assert not tx.validations.record_miss("s1", "w0", "c1", epoch=1, now=6)  # once
        assert tx.validations.record_miss("s2", "w0", "c2", epoch=1, now=7)
        assert tx.validations.record_miss("s3", "w0", "c3", epoch=2, now=8)
        assert tx.validations.record_miss("s1", "w1", "c1", epoch=1, now=9)
        _ballot(tx, "c1", "w0", 1)
        _ballot(tx, "c4", "w2", 1)
        _ballot(tx, "c5", "w2", 2)
    with store.transaction() as tx:
        assert tx.validations.missed_count("w0", 1) == 2
        assert tx.validations.missed_count("w0", 2) == 1
        assert tx.validations.missed_count("w2", 1) == 0
        records = tx.validations.seat_records(1)
        assert tx.validations.ballots("c2") == []  # a miss is never a ballot
    assert records == {
        "w0": SeatRecord(missed=2, served=1),
        "w1": SeatRecord(missed=1, served=0),
        "w2": SeatRecord(missed=0, served=1),
    }
    assert records["w0"].reliability == pytest.approx(1 / 3)


def test_seats_in_play_counts_held_and_drawn_seats_but_not_undrawn_ones(store: Store) -> None:
    with store.transaction() as tx:
        tx.validations.open_check("c1", "claimant", "echo-image@fp32", epoch=0, now=0)
        tx.jobs.insert(
            [
                job("undrawn", validates="c1"),
                job("drawn", validates="c1", assigned_worker="v1"),
                job("held", validates="c1", state=JobState.LEASED, worker_id="v2"),
                job("voted", validates="c1", state=JobState.COMPLETED, worker_id="v3"),
                job("ordinary", state=JobState.LEASED, worker_id="v4"),
                job("queued", assigned_worker=None),
            ]
        )
        assert tx.validations.seats_in_play() == 2
        tx.validations.settle("c1", CheckStatus.UPHELD, epoch=0, reason="agree", now=5)
        assert tx.validations.seats_in_play() == 0
