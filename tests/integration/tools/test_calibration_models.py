"""Calibration on tiny-sd: thresholds reach the registry and separate honest from cheating."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from swarmgen.backends.factory import make_backend
from swarmgen.core.offerings import Kind, Offering
from swarmgen.core.verification import ImageThresholds
from swarmgen.registry import load_registry
from swarmgen.registry_edit import set_thresholds
from swarmgen.tools.calibration import (
    calibrate_image,
    compare_image_outputs,
    image_jobs,
    run_batched,
)
from swarmgen.tools.cheats import Cheat, cheats_for
from swarmgen.tools.cheats.build import make_cheater

pytestmark = pytest.mark.models

OFFERING = Offering.parse("tiny-sd@fp32")
STEPS = 4


@pytest.fixture(scope="module")
def calibrated(model_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped registry with tiny-sd calibrated on 10 prompts."""
    path = tmp_path_factory.mktemp("registry") / "models.toml"
    with resources.as_file(resources.files("swarmgen").joinpath("models.toml")) as shipped:
        shutil.copy(shipped, path)
    result = calibrate_image(
        load_registry(path), OFFERING, count=10, cache_dir=model_cache, steps=STEPS
    )
    set_thresholds(path, OFFERING, result.table())
    return path


def test_calibration_is_stored_where_the_registry_reads_it(calibrated: Path) -> None:
    table = load_registry(calibrated).offering(OFFERING).thresholds
    thresholds = ImageThresholds.from_mapping(table)
    assert thresholds.honest_samples == 20 and thresholds.false_positive == 0.0
    assert thresholds.cheat_samples == 10 * len(cheats_for(Kind.IMAGE))
    assert set(table["detection_by_cheat"]) == {str(c) for c in cheats_for(Kind.IMAGE)}
    assert table["detection_by_cheat"]["wrong-seed"] == 1.0
    text = Offering.parse("smollm2-135m@fp32")
    other = load_registry(calibrated).offering(text)
    assert other.thresholds == load_registry().offering(text).thresholds  # left as it was


def test_wrong_seed_is_caught_and_honest_work_passes(calibrated: Path, model_cache: Path) -> None:
    registry = load_registry(calibrated)
    thresholds = ImageThresholds.from_mapping(registry.offering(OFFERING).thresholds)
    jobs = image_jobs(OFFERING, 10, seed=7, steps=STEPS)
    entry = registry.entry(OFFERING)
    validator = make_backend(entry, OFFERING, cache_dir=model_cache, threads=2)
    claimant = make_backend(entry, OFFERING, cache_dir=model_cache, threads=1)
    cheater = make_cheater(
        registry, OFFERING, Cheat.WRONG_SEED, cache_dir=model_cache, threads=1, inner=claimant
    )
    reference = run_batched(validator, jobs, 4)
    honest = [
        compare_image_outputs(c, r, 1, thresholds)
        for c, r in zip(run_batched(claimant, jobs, 1), reference, strict=True)
    ]
    cheats = [
        compare_image_outputs(c, r, 1, thresholds)
        for c, r in zip(run_batched(cheater, jobs, 1), reference, strict=True)
    ]
    assert all(result.passed for result in honest)
    assert not any(result.passed for result in cheats)
