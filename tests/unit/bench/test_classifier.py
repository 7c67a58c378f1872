"""The adversary bench's classifiers find a real signal and none in noise."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

BENCH = Path(__file__).parents[3] / "bench"


@pytest.fixture(scope="module")
def classifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_classifier", BENCH / "classifier.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_leaking_feature_is_found(classifier: ModuleType) -> None:
    rng = np.random.default_rng(1)
    y = rng.random(1000) < 0.5
    x = np.column_stack([rng.normal(size=1000), y + rng.normal(scale=0.1, size=1000)])
    result = classifier.evaluate(x, y, ["noise", "leak"])
    assert result.best_stump.name == "leak"
    assert result.accuracy > 0.95 and not result.at_chance


def test_noise_stays_at_chance(classifier: ModuleType) -> None:
    rng = np.random.default_rng(2)
    y = rng.random(1000) < 0.5
    x = rng.normal(size=(1000, 6))
    result = classifier.evaluate(x, y, [f"f{i}" for i in range(6)])
    assert result.at_chance
    assert abs(result.accuracy - 0.5) < 0.08


def test_the_wilson_interval_holds_the_proportion(classifier: ModuleType) -> None:
    low, high = classifier.wilson(50, 100)
    assert low < 0.5 < high and high - low == pytest.approx(0.19, abs=0.01)
    assert classifier.wilson(0, 0) == (0.0, 1.0)
