"""shapes-64 with a quarter of its steps cut is caught; honest re-runs are not.

Runs the shipped model against the shipped thresholds, as the coordinator would compare
a claim with a validator's re-run, and checks that the stored fixtures of
``tests/unit/core/verification/test_changed_pixels.py`` are still what it paints.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmgen.backends.factory import make_backend
from swarmgen.core.offerings import Offering
from swarmgen.core.outputs import ImageOutput, Output
from swarmgen.core.verification import ImageArtifacts, ImageThresholds, image_artifacts
from swarmgen.core.verification.imagecheck import image_distance
from swarmgen.registry import load_registry
from swarmgen.tools.calibration import (
    compare_image_outputs,
    image_distances,
    image_jobs,
    run_batched,
)
from swarmgen.tools.cheats import Cheat
from swarmgen.tools.cheats.build import make_cheater

pytestmark = pytest.mark.models

OFFERING = Offering.parse("shapes-64@fp32")
FIXTURES = Path(__file__).parents[2] / "unit" / "core" / "verification" / "fixtures"
FIXTURE_SEED, FIXTURE_COUNT = 5, 8
"""The fixtures are jobs 6 (cut) and 5 (honest) of ``image_jobs(shapes-64, 100, 5)``."""


def _image(output: Output) -> ImageArtifacts:
    assert isinstance(output, ImageOutput)
    result = image_artifacts(output.images[0])
    assert isinstance(result, ImageArtifacts)
    return result


@pytest.fixture(scope="module")
def runs(model_cache: Path) -> dict[str, list[Output]]:
    """Validator (2 threads, batch 4), honest claimant (1 thread) and a 25 % step cut."""
    registry = load_registry()
    entry = registry.entry(OFFERING)
    validator = make_backend(entry, OFFERING, cache_dir=model_cache, threads=2)
    claimant = make_backend(entry, OFFERING, cache_dir=model_cache, threads=1)
    cutter = make_cheater(
        registry, OFFERING, Cheat.FEWER_STEPS_25, cache_dir=model_cache, threads=1, inner=claimant
    )
    jobs = image_jobs(OFFERING, FIXTURE_COUNT, FIXTURE_SEED)
    return {
        "reference": run_batched(validator, jobs, 4),
        "honest": run_batched(claimant, jobs, 1),
        "cut": run_batched(cutter, jobs, 1),
    }


def test_honest_re_runs_change_no_pixel_and_a_quarter_cut_fails(
    runs: dict[str, list[Output]],
) -> None:
    thresholds = ImageThresholds.from_mapping(load_registry().offering(OFFERING).thresholds)
    assert thresholds.changed < 1.0  # calibrated: the changed share decides
    honest = image_distances(runs["honest"], runs["reference"])
    assert all(d.changed == 0.0 for d in honest)
    cut = image_distances(runs["cut"], runs["reference"])
    assert all(d.changed > thresholds.changed for d in cut)
    for claims, passed in (("honest", True), ("cut", False)):
        results = [
            compare_image_outputs(c, r, 1, thresholds)
            for c, r in zip(runs[claims], runs["reference"], strict=True)
        ]
        assert [result.passed for result in results] == [passed] * FIXTURE_COUNT


@pytest.mark.parametrize(
    ("name", "run", "index"),
    [
        ("cut25_reference", "reference", 6),
        ("cut25_claim", "cut", 6),
        ("honest_reference", "reference", 5),
        ("honest_claim", "honest", 5),
    ],
)
def test_the_stored_fixtures_are_what_the_model_paints(
    runs: dict[str, list[Output]], name: str, run: str, index: int
) -> None:
    stored = image_artifacts((FIXTURES / f"{name}.png").read_bytes())
    assert isinstance(stored, ImageArtifacts)
    # within rounding: another machine may move a pixel by a level
    assert image_distance(stored, _image(runs[run][index])).changed == 0.0
