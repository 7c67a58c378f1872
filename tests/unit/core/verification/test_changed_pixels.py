"""The changed-pixel share: a small step cut is caught, rounding noise is not.

The fixtures are shapes-64 outputs (``tests/integration/tools/test_step_cuts_models.py``
checks that the shipped model still paints them): a validator's image (2 threads, batch
of 4) with a claim cut to 15 of 20 steps that the hashes and the thumbnail's pixel metric
let through (6 of 100 such claims were), and the one honest claim of those 100 (1 thread)
that was not bit-identical to the validator's.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from swarmgen.core.offerings import Offering
from swarmgen.core.verification.imagecheck import (
    CHANGE_LEVELS,
    METRICS,
    ImageArtifacts,
    ImageDistance,
    ImageThresholds,
    compare_images,
    image_artifacts,
    image_distance,
    rejects,
)
from swarmgen.registry import load_registry

from .images import png, scene

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> ImageArtifacts:
    result = image_artifacts((FIXTURES / f"{name}.png").read_bytes(), (64, 64))
    assert isinstance(result, ImageArtifacts), result
    return result


def artifacts(image: Image.Image) -> ImageArtifacts:
    result = image_artifacts(png(image))
    assert isinstance(result, ImageArtifacts), result
    return result


@pytest.fixture(scope="module")
def shipped() -> ImageThresholds:
    """The thresholds the coordinator reads for shapes-64@fp32."""
    table = load_registry().offering(Offering.parse("shapes-64@fp32")).thresholds
    return ImageThresholds.from_mapping(table)


def shifted(image: Image.Image, levels: int, share: float = 1.0) -> Image.Image:
    """``image`` with the first ``share`` of its pixels moved by ``levels`` in every channel."""
    pixels = np.asarray(image, dtype=np.int16).reshape(-1, 3).copy()
    count = round(share * len(pixels))
    pixels[:count] = np.clip(pixels[:count] + levels, 0, 255)
    side = image.size[0]
    return Image.fromarray(pixels.reshape(side, side, 3).astype(np.uint8), "RGB")


def test_identical_images_change_no_pixel() -> None:
    assert image_distance(artifacts(scene(4)), artifacts(scene(4))).changed == 0.0


def test_moves_within_the_dead_zone_change_no_pixel() -> None:
    original = scene(5)
    for levels in (1, -1, CHANGE_LEVELS, -CHANGE_LEVELS):
        distance = image_distance(artifacts(original), artifacts(shifted(original, levels)))
        assert distance.changed == 0.0, levels


def test_the_share_counts_pixels_past_the_dead_zone() -> None:
    # a gray mid-tone canvas, so no channel clips at 0 or 255
    canvas = Image.new("RGB", (64, 64), (120, 120, 120))
    moved = shifted(canvas, CHANGE_LEVELS + 1, share=0.02)
    distance = image_distance(artifacts(canvas), artifacts(moved))
    assert distance.changed == pytest.approx(round(0.02 * 4096) / 4096)
    assert image_distance(artifacts(moved), artifacts(canvas)) == distance


def test_the_changed_share_rejects_on_its_own() -> None:
    distance = ImageDistance(**{name: 0.0 for name in METRICS} | {"changed": 0.02})
    assert rejects(distance, ImageThresholds(changed=0.01))
    assert not rejects(distance, ImageThresholds(changed=0.02))


def test_uncalibrated_thresholds_leave_the_changed_share_out() -> None:
    # defaults must forgive unknown rendering noise; a JPEG round trip changes most pixels
    assert not rejects(
        ImageDistance(**{name: 0.0 for name in METRICS} | {"changed": 1.0}), ImageThresholds()
    )


def test_an_honest_rounding_difference_passes(shipped: ImageThresholds) -> None:
    claim, reference = fixture("honest_claim"), fixture("honest_reference")
    assert claim.pixels != reference.pixels  # not bit-identical: rounding moved some pixels
    distance = image_distance(claim, reference)
    assert distance.changed == 0.0 and 0.0 < distance.pixel < shipped.pixel / 10
    assert compare_images(claim, reference, shipped).passed


def test_a_quarter_fewer_steps_is_caught_by_the_changed_share(shipped: ImageThresholds) -> None:
    claim, reference = fixture("cut25_claim"), fixture("cut25_reference")
    distance = image_distance(claim, reference)
    # inside the pixel metric's hardware allowance, and one hash is not a quorum ...
    assert distance.pixel < shipped.pixel
    assert not rejects(distance, ImageThresholds(**{**shipped.as_mapping(), "changed": 1.0}))
    # ... but more than twice the changed share allowed
    assert distance.changed > 2 * shipped.changed
    comparison = compare_images(claim, reference, shipped)
    assert not comparison.passed and "changed" in comparison.detail


def test_artifacts_without_pixels_count_as_all_changed() -> None:
    # fail closed: artifacts rebuilt from evidence (no pixels) never pass on the share
    whole = artifacts(scene(6))
    bare = replace(whole, pixels=b"")
    assert image_distance(whole, bare).changed == 1.0
    assert image_distance(bare, bare).changed == 1.0
