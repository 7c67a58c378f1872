from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from swarmgen.core.verification.failures import Failure, FailureKind, Outcome, VerificationError
from swarmgen.core.verification.imagecheck import (
    HASHES,
    METRICS,
    ImageArtifacts,
    ImageDistance,
    ImageThresholds,
    compare_image_sets,
    compare_images,
    image_artifacts,
    image_distance,
    images_agree,
    rejects,
)

from .images import jpeg_roundtrip, noisy, png, scene

THRESHOLDS = ImageThresholds()


def artifacts(image: Image.Image) -> ImageArtifacts:
    result = image_artifacts(png(image))
    assert isinstance(result, ImageArtifacts), result
    return result


def test_identical_images_have_zero_distance_and_agree() -> None:
    a, b = artifacts(scene(1)), artifacts(scene(1))
    assert all(value == 0.0 for _, value in image_distance(a, b).items())
    assert images_agree(a, b, THRESHOLDS)


@pytest.mark.parametrize("seed", range(5))
def test_rendering_noise_agrees_under_default_thresholds(seed: int) -> None:
    original = scene(seed)
    for variant in (jpeg_roundtrip(original, 90), noisy(original, 2.0, seed)):
        comparison = compare_images(artifacts(original), artifacts(variant), THRESHOLDS)
        assert comparison.outcome is Outcome.AGREE, comparison.detail


@pytest.mark.parametrize("seed", range(5))
def test_a_different_picture_disagrees(seed: int) -> None:
    comparison = compare_images(artifacts(scene(seed)), artifacts(scene(seed + 100)), THRESHOLDS)
    assert comparison.outcome is Outcome.DISAGREE
    assert comparison.reason in METRICS
    assert comparison.distance is not None and comparison.distance > 1.0


def test_pixel_metric_catches_a_global_shift_the_hashes_forgive() -> None:
    original = scene(3)
    darker = Image.eval(original, lambda v: max(0, v - 25))
    distance = image_distance(artifacts(original), artifacts(darker))
    comparison = compare_images(artifacts(original), artifacts(darker), THRESHOLDS)
    assert distance.pixel > THRESHOLDS.pixel
    assert comparison.reason == "pixel"


def test_different_sizes_disagree() -> None:
    small, large = artifacts(scene(1, 64)), artifacts(scene(1, 128))
    assert compare_images(small, large, THRESHOLDS).reason == "size"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", FailureKind.EMPTY),
        (b"not an image at all", FailureKind.MALFORMED),
        (png(scene(1))[:40], FailureKind.MALFORMED),
    ],
)
def test_unusable_bytes_are_failures_not_exceptions(data: bytes, kind: FailureKind) -> None:
    result = image_artifacts(data)
    assert isinstance(result, Failure)
    assert result.kind is kind


def test_a_jpeg_is_not_accepted_as_a_png() -> None:
    out = io.BytesIO()
    scene(1).save(out, format="JPEG")
    result = image_artifacts(out.getvalue())
    assert isinstance(result, Failure) and "PNG" in result.detail


def test_wrong_size_for_the_job_is_a_failure() -> None:
    result = image_artifacts(png(scene(1, 64)), expected_size=(128, 128))
    assert isinstance(result, Failure) and "expected 128x128" in result.detail


failures = st.builds(Failure, st.sampled_from(FailureKind), st.text(max_size=10))


@given(failure=failures, claim_side=st.booleans(), both=st.booleans())
def test_a_failure_on_either_side_never_passes(
    failure: Failure, claim_side: bool, both: bool
) -> None:
    good = artifacts(scene(7))
    claimed: ImageArtifacts | Failure = failure if claim_side or both else good
    reference: ImageArtifacts | Failure = failure if not claim_side or both else good
    result = compare_images(claimed, reference, THRESHOLDS)
    assert not result.passed
    assert result.outcome.claim_lost == isinstance(claimed, Failure)
    assert result.outcome.validator_lost == isinstance(reference, Failure)


@settings(max_examples=25, deadline=None)
@given(a=st.integers(0, 10_000), b=st.integers(0, 10_000))
def test_distance_is_symmetric_and_bounded(a: int, b: int) -> None:
    x, y = artifacts(scene(a)), artifacts(scene(b))
    assert image_distance(x, y) == image_distance(y, x)
    assert all(0.0 <= value <= 1.0 for _, value in image_distance(x, y).items())


def test_image_sets_need_the_expected_count_from_each_side() -> None:
    one = artifacts(scene(1))
    assert compare_image_sets((one, one), (one, one), 2, THRESHOLDS).passed
    short_claim = compare_image_sets((one,), (one, one), 2, THRESHOLDS)
    assert short_claim.outcome is Outcome.CLAIM_FAILED
    short_validator = compare_image_sets((one, one), (one,), 2, THRESHOLDS)
    assert short_validator.outcome is Outcome.VALIDATOR_FAILED


def test_image_sets_fail_on_the_first_bad_image() -> None:
    one, other = artifacts(scene(1)), artifacts(scene(2))
    result = compare_image_sets((one, other), (one, one), 2, THRESHOLDS)
    assert result.outcome is Outcome.DISAGREE and result.detail.startswith("image 1")


def test_thresholds_round_trip_through_the_registry_form() -> None:
    fitted = ImageThresholds(phash=0.2, pixel=0.01, false_positive=0.0, honest_samples=50)
    assert ImageThresholds.from_mapping(fitted.as_mapping()) == fitted
    assert ImageThresholds.from_mapping({"phash": 0.3, "unknown": 1}).phash == 0.3


def test_thresholds_outside_the_unit_interval_are_refused() -> None:
    with pytest.raises(VerificationError):
        ImageThresholds(dhash=1.5)


def _distance(**over: float) -> ImageDistance:
    values = {name: 0.0 for name in METRICS}
    values.update(over)
    return ImageDistance(**values)


@pytest.mark.parametrize("name", HASHES)
def test_one_hash_past_its_limit_alone_does_not_reject(name: str) -> None:
    # A few near-median bits of one hash flip under an honest re-run's rounding noise.
    assert not rejects(_distance(**{name: 3 / 64}), ImageThresholds(**{name: 2 / 64}))


def test_two_hashes_past_their_limits_reject() -> None:
    limits = ImageThresholds(phash=2 / 64, whash=2 / 64)
    assert rejects(_distance(phash=3 / 64, whash=3 / 64), limits)
    assert not rejects(_distance(phash=2 / 64, whash=3 / 64), limits)


def test_the_pixel_metric_rejects_on_its_own() -> None:
    assert rejects(_distance(pixel=0.006), ImageThresholds(pixel=0.005))
    assert not rejects(_distance(pixel=0.005), ImageThresholds(pixel=0.005))


def test_a_disagreement_names_every_metric_past_its_limit() -> None:
    original = scene(3)
    darker = Image.eval(original, lambda v: max(0, v - 25))
    comparison = compare_images(artifacts(original), artifacts(darker), ImageThresholds())
    assert comparison.outcome is Outcome.DISAGREE
    assert "pixel" in comparison.detail
