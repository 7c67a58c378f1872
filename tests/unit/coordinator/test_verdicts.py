"""Verdicts are pooled per owner: spreading failures over keys hides none of them."""

from __future__ import annotations

from swarmgen.coordinator.verdicts import Tally, claims_convict, owner_of, pooled
from swarmgen.core.verification import epoch_verdict

FP = 0.0149


def tallies(*counts: tuple[int, int], fp: float = FP) -> list[Tally]:
    return [
        Tally(checks=n, failures=k, honest_fp=fp, rejected=[f"j{i}"] * k)
        for i, (n, k) in enumerate(counts)
    ]


def test_failures_under_every_per_key_threshold_convict_the_owner() -> None:
    keys = tallies(*[(3, 3)] * 10)  # ten keys, three failed checks each
    assert not any(epoch_verdict(t.checks, t.failures, t.honest_fp).invalid for t in keys)
    pool = pooled(keys)
    assert (pool.checks, pool.failures, len(pool.rejected)) == (30, 30, 30)
    assert epoch_verdict(pool.checks, pool.failures, pool.honest_fp).invalid


def test_an_honest_owner_with_many_keys_stays_valid() -> None:
    pool = pooled(tallies(*[(40, 1)] * 25))  # 1,000 checks, 25 failures: 2.5 % vs 1.5 %
    assert not epoch_verdict(pool.checks, pool.failures, pool.honest_fp).invalid


def test_the_pool_is_judged_at_its_highest_honest_rate() -> None:
    pool = pooled([*tallies((5, 0), fp=0.001), *tallies((5, 0), fp=0.02)])
    assert pool.honest_fp == 0.02


def test_a_key_without_owner_is_its_own_owner() -> None:
    owners = {"k1": "u1", "k2": "u1"}
    assert owner_of("k1", owners) == owner_of("k2", owners) == "u1"
    assert owner_of("k3", owners) == "key:k3" != owner_of("k4", owners)


def test_honest_ballots_do_not_dilute_rejected_claims() -> None:
    # four claims, all rejected, behind thirty honest seats it sat for others
    cheat = Tally(checks=34, failures=4, honest_fp=FP, rejected=["j"] * 4, claims=4)
    assert not epoch_verdict(cheat.checks, cheat.failures, cheat.honest_fp).invalid
    assert claims_convict(cheat)
    # an honest worker's one unlucky claim among many stays valid either way
    honest = Tally(checks=60, failures=1, honest_fp=FP, rejected=["j"], claims=30)
    assert not claims_convict(honest)
