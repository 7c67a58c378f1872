"""What the measured per-check rates of ``bench/verify.py`` mean under the core's policies.

Pure simulations, no models: how many jobs a cheater gets through before an epoch
verdict, what share of compute verification takes at steady state, and what colluding
validators in the pool do to detection. Each applies the core's own rules
(``sampling_rate``, ``reputation_after``, ``rejection_probability``, ``epoch_verdict``,
``run_panel``) to the rates the bench measured.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

TRUSTED_EPOCHS = 50
"""Clean epochs behind a long-standing worker (checked at about the sampling floor)."""


def jobs_until_invalid(
    detect: float, fp_bound: float, *, trusted: bool, jobs_per_epoch: int, runs: int, seed: int
) -> float | None:
    """Median jobs a worker cheating on every job does before an epoch verdict invalidates it.

    ``None`` when most simulated workers are never invalidated within 1,000 epochs.
    """
    from swarmgen.core.verification import SamplingPolicy, epoch_verdict, sampling_rate
    from swarmgen.core.verification.escalation import rejection_probability
    from swarmgen.core.verification.sampling import reputation_after

    policy = SamplingPolicy()
    traffic = policy.normal_traffic
    panel_fp = min(max(rejection_probability(fp_bound), 1e-12), 0.5)
    lose = rejection_probability(detect)
    rng = np.random.default_rng(seed)
    start = 0.0
    if trusted:
        for _ in range(TRUSTED_EPOCHS):
            start = reputation_after(start, True, policy)
    found: list[float] = []
    for _ in range(runs):
        reputation = start
        for epoch in range(1, 1001):
            checks = int(rng.binomial(jobs_per_epoch, sampling_rate(reputation, traffic, policy)))
            failures = int(rng.binomial(checks, lose)) if checks else 0
            if checks and epoch_verdict(checks, failures, panel_fp).invalid:
                found.append(epoch * jobs_per_epoch)
                break
            reputation = reputation_after(reputation, failures == 0, policy)
        else:
            found.append(float("inf"))
    median = statistics.median(found)
    return None if median == float("inf") else median


def steady_share(honest_fp: float, claim_s: float, validate_s: float) -> float:
    """Validator compute over all compute when long-standing workers are checked at the floor.

    ``claim_s`` and ``validate_s`` are the measured seconds of one job and of one check.
    """
    from swarmgen.core.verification import SamplingPolicy, sampling_rate
    from swarmgen.core.verification.escalation import expected_panel
    from swarmgen.core.verification.sampling import reputation_after

    policy = SamplingPolicy()
    reputation = 0.0
    for _ in range(TRUSTED_EPOCHS):
        reputation = reputation_after(reputation, True, policy)
    rate = sampling_rate(reputation, policy.normal_traffic, policy)
    # Panel size: the first stage, plus each further stage its disagreements call for.
    panel = expected_panel(honest_fp)
    verify = rate * panel * validate_s
    return verify / (claim_s + verify)


def _constant(value: Any) -> Any:
    return lambda: value


def validator_pool(wrong_seed_passes: Sequence[bool], bad_share: float, seed: int) -> float:
    """Detection per check of wrong-seed claims when ``bad_share`` of validators collude.

    Each check draws its panel from a pool of honest and colluding validators; honest
    ones vote with the measured comparison, colluding ones always agree.
    """
    from swarmgen.core.verification import Comparison, Outcome, Status
    from swarmgen.tools.cheats import ColludingValidator, HonestValidator, run_panel

    rng = np.random.default_rng(seed)
    caught = 0
    for passed in wrong_seed_passes:
        outcome = Outcome.AGREE if passed else Outcome.DISAGREE
        comparison = Comparison(outcome, "measured")
        panel: list[Any] = [
            ColludingValidator(f"v{i}", frozenset({"cheat"}))
            if rng.random() < bad_share
            else HonestValidator(f"v{i}")
            for i in range(7)  # the largest panel of the default stages
        ]
        decision = run_panel("cheat", _constant(comparison), panel)
        caught += decision.status is Status.REJECTED
    return caught / len(wrong_seed_passes) if wrong_seed_passes else 0.0
