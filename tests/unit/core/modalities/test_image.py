"""The image modality: spec, size rules, price and lease, PNG decoding, comparison."""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

import pytest

from swarmgen.core.jobs import ImageSpec, TextSpec
from swarmgen.core.modalities.image import IMAGE
from swarmgen.core.outputs import ImageOutput, TextOutput
from swarmgen.core.pricing import Rates, price_image
from swarmgen.core.verification import ImageThresholds, Outcome
from swarmgen.core.verification.failures import Failure, FailureKind
from swarmgen.errors import InvalidRequest

_images = Path(__file__).parents[1] / "verification" / "images.py"
_spec = importlib.util.spec_from_file_location("modality_test_images", _images)
assert _spec is not None and _spec.loader is not None
images = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(images)

SPEC = ImageSpec(prompt="a red circle", width=64, height=64, steps=4, seed=3, n=1)
RATES = Rates(image_per_mpixel_step=10_000, text_per_ktoken=10_000)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_spec_from_wire_fields() -> None:
    fields = {
        "kind": "image",
        "model": "m@fp32",
        "prompt": "p",
        "negative_prompt": "q",
        "width": 128,
        "height": 64,
        "steps": 5,
        "guidance": 6.5,
        "n": 2,
        "seed": None,
    }
    spec = IMAGE.spec_from_wire(fields, 9)
    assert spec == ImageSpec("p", "q", 128, 64, 5, 6.5, 9, 2)
    assert IMAGE.pixels(spec) == 128 * 64 and not IMAGE.needs_sampling_id(spec)


def test_model_size_limit() -> None:
    assert IMAGE.model_problem(SPEC, "m@fp32", 64 * 64) is None
    problem = IMAGE.model_problem(SPEC, "m@fp32", 64 * 63)
    assert problem is not None and problem.field == "width" and "m@fp32" in problem.reason


def test_quote_and_lease_follow_the_work() -> None:
    quote = IMAGE.quote(SPEC, 2_000_000, RATES, None)
    assert quote.price == price_image(64, 64, 4, 1, multiplier_ppm=2_000_000, rates=RATES)
    assert quote.work_units == SPEC.work_units() and quote.multiplier_ppm == 2_000_000
    bigger = ImageSpec(prompt="x", width=128, height=128, steps=4, seed=1)
    assert IMAGE.expected_run_s(bigger) == 4 * IMAGE.expected_run_s(SPEC)


def test_outputs_round_trip_through_the_wire_and_the_store() -> None:
    data = images.png(images.scene(1))
    output = ImageOutput((data,))
    wire = IMAGE.encode_output(output)
    assert IMAGE.decode_output(SPEC, wire["images"], None) == output
    assert IMAGE.output_blobs(output) == [data]
    assert IMAGE.output_count(1, True) == 1
    assert IMAGE.result(lambda i: [data][i], 1, 0, "png") == (data, "image/png")
    with pytest.raises(InvalidRequest):
        IMAGE.result(lambda i: data, 1, 1, "png")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (None, "must hold n images"),
        (["%%%"], "not base64"),
        ([b64(b"GIF89a")], "not a PNG"),
        ([b64(b"\x89PNG\r\n\x1a\nbroken")], "does not decode"),
    ],
)
def test_bad_outputs_are_refused(payload: list[str] | None, reason: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        IMAGE.decode_output(SPEC, payload, None)
    assert reason in str(info.value.problems[0].reason)


def test_an_image_of_the_wrong_size_is_refused() -> None:
    small = images.png(images.scene(1, side=32))
    with pytest.raises(InvalidRequest, match="size"):
        IMAGE.decode_output(SPEC, [b64(small)], None)


def test_compare_agrees_on_the_same_picture_and_fails_closed() -> None:
    thresholds = IMAGE.thresholds({})
    assert isinstance(thresholds, ImageThresholds)
    one, other = images.png(images.scene(1)), images.png(images.scene(2))
    assert IMAGE.compare(SPEC, [one], [one], thresholds).outcome is Outcome.AGREE
    assert IMAGE.compare(SPEC, [one], [other], thresholds).outcome is Outcome.DISAGREE
    missing = Failure(FailureKind.MISSING, "gone")
    assert not IMAGE.compare(SPEC, missing, [one], thresholds).passed
    assert not IMAGE.compare(SPEC, [one, one], [one], thresholds).passed


def test_other_kinds_are_refused() -> None:
    with pytest.raises(TypeError):
        IMAGE.pixels(TextSpec(prompt="x"))
    with pytest.raises(TypeError):
        IMAGE.output_blobs(TextOutput("t", (1,), (((1, 0.0),),), 1))
