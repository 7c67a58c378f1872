"""The one verdict write path applies the core's rule: an earlier invalid verdict stands."""

from __future__ import annotations

from swarmgen.store import Store


def test_an_earlier_invalid_verdict_stands_and_its_evidence_is_kept(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.verdicts.record(3, "w1", invalid=True, evidence={"by": "operator"}, now=1)
        kept = tx.verdicts.record(3, "w1", invalid=False, evidence={"by": "checks"}, now=2)
        assert kept is True
        assert tx.verdicts.invalid_workers(3) == ["w1"]
        assert tx.verdicts.get(3, "w1") == (True, {"by": "checks", "earlier": {"by": "operator"}})


def test_a_later_invalid_verdict_replaces_a_clean_one(store: Store) -> None:
    with store.transaction() as tx:
        assert not tx.verdicts.record(3, "w1", invalid=False, evidence={}, now=1)
        assert tx.verdicts.record(3, "w1", invalid=True, evidence={}, now=2)
        assert not tx.verdicts.record(3, "w2", invalid=False, evidence={}, now=2)
        assert tx.verdicts.invalid_workers(3) == ["w1"]
        assert tx.verdicts.invalid_workers(4) == []
