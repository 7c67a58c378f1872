"""The adversary bench's bookkeeping: stake shares, the losing rule, the JSON line,
and the colluders' cheat (one output per input, differing from honest work)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[3] / "bench"


def load(name: str) -> ModuleType:
    """A bench module by file name, with ``bench/`` importable as its scripts expect."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def network() -> ModuleType:
    return load("network")


@pytest.fixture(scope="module")
def adversary() -> ModuleType:
    return load("adversary")


@pytest.mark.parametrize("share", [0.01, 0.1, 0.33, 0.5])
def test_stakes_give_the_adversary_its_share_and_every_key_the_minimum(
    network: ModuleType, share: float
) -> None:
    adversary_each, honest_each = network.stakes(share, 2, 6)
    assert min(adversary_each, honest_each) >= network.MIN_STAKE
    total = 2 * adversary_each + 6 * honest_each
    assert abs(2 * adversary_each / total - share) < 0.005


def test_a_cheating_strategy_loses_below_zero_and_timing_when_its_lie_bought_no_speed(
    network: ModuleType,
) -> None:
    """The timing liar is judged by the speed the coordinator observed for it, whatever
    its credits or its (noisy) emission per unit say."""
    outcome = network.Outcome
    tolerance = network.TIMING_TOLERANCE
    assert outcome("capture", 0.1, gain=-1).loses
    assert not outcome("capture", 0.1, gain=1, noise=10).loses
    assert outcome("timing", 0.1, gain=11, noise=10, speed_ratio=1.1, emission_ratio=2.3).loses
    assert not outcome("timing", 0.1, gain=-5, speed_ratio=tolerance + 0.01).loses
    assert not outcome("timing", 0.1, gain=-5, emission_ratio=0.5).loses  # speed unmeasured


def test_shares_count_upheld_and_abandoned_checks(network: ModuleType) -> None:
    found = network.Outcome("starve", 0.1, checked=10, upheld=1, abandoned=3)
    assert found.upheld_share == 0.1
    assert found.escaped_share == 0.4
    assert network.Outcome("timing", 0.1).upheld_share == 0.0


def test_the_json_line_names_the_headline_figures(
    network: ModuleType, adversary: ModuleType
) -> None:
    outcomes = [
        network.Outcome("capture", 0.1, checked=4, upheld=1, gain=-5),
        network.Outcome("late", 0.33, checked=2, rejected=2, gain=3),
    ]
    churned = network.Churn(workers=10, killed=3, restarted=2, honest_invalid=0)
    summary = adversary.summarise({"validation_classifier_accuracy": 0.51}, outcomes, churned)
    assert summary["max_upheld_share"] == 0.25
    assert summary["all_strategies_lose"] is False  # late gained
    assert summary["honest_invalid"] == 0
    assert summary["validation_classifier_accuracy"] == 0.51
    assert summary["strategies"]["capture"]["0.1"]["upheld"] == 1
    assert set(summary["strategies"]) == {"capture", "late"}


def test_colluders_forge_the_same_output_and_it_is_not_honest_work() -> None:
    agents = load("agents")
    assignment = {
        "job_id": "a" * 32,
        "model": agents.IMAGE_MODEL,
        "spec": {
            "kind": "image",
            "prompt": "p",
            "steps": 2,
            "width": 64,
            "height": 64,
            "seed": 7,
            "n": 1,
            "guidance": 7.5,
            "negative_prompt": "",
        },
        "sampling_id": None,
    }
    job = agents.job_of(assignment)
    seat = agents.job_of({**assignment, "job_id": "b" * 32})
    assert agents.cheated_output(job).digest() == agents.cheated_output(seat).digest()
    assert agents.cheated_output(job).digest() != agents.honest_output(job).digest()
