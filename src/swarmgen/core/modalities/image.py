"""The image modality: text-to-image jobs that return PNGs.

Sizes are checked twice: a spec's pixels against the model's ``max_pixels`` when it is
submitted, and each returned PNG against the spec's width and height when a worker
submits it. Outputs are stored as the PNG bytes themselves, so byte-identical images
agree without being hashed again; otherwise the coordinator derives perceptual hashes
and a thumbnail from the bytes (:mod:`swarmgen.core.verification.imagecheck`).
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from swarmgen.core.jobs import ImageSpec, Spec
from swarmgen.core.offerings import Kind
from swarmgen.core.outputs import ImageOutput, Output
from swarmgen.core.pricing import Quote, Rates, price_image
from swarmgen.errors import FieldProblem, InvalidRequest

if TYPE_CHECKING:
    from swarmgen.core.modalities.base import Blobs, Thresholds
    from swarmgen.core.verification.failures import Comparison

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WORK_PER_S = 64 * 64 * 20
"""Pessimistic CPU throughput in pixel-steps per second used to size image leases."""


def _image(spec: Spec) -> ImageSpec:
    if not isinstance(spec, ImageSpec):
        raise TypeError(f"the image modality got a {spec.kind} spec")
    return spec


def decode_png(text: str, spec: ImageSpec, index: int) -> bytes:
    """The PNG bytes of a base64 image, which must decode at the spec's size."""
    field = f"results.images[{index}]"
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(FieldProblem(field, "not base64")) from None
    if not data.startswith(PNG_MAGIC):
        raise InvalidRequest(FieldProblem(field, "not a PNG"))
    try:
        size = Image.open(io.BytesIO(data)).size
    except (UnidentifiedImageError, OSError, ValueError):
        raise InvalidRequest(FieldProblem(field, "PNG does not decode")) from None
    if size != (spec.width, spec.height):
        raise InvalidRequest(
            FieldProblem(field, "image size differs from the job's", [spec.width, spec.height])
        )
    return data


@dataclass(frozen=True)
class ImageModality:
    """Rules of image jobs."""

    kind: Kind = Kind.IMAGE
    calibration: str = "swarmgen.tools.calibration:calibrate_image"
    identical_outputs_agree: bool = True

    def spec_from_wire(self, fields: Mapping[str, Any], seed: int | None) -> Spec:
        return ImageSpec(
            prompt=fields["prompt"],
            negative_prompt=fields.get("negative_prompt", ""),
            width=fields["width"],
            height=fields["height"],
            steps=fields["steps"],
            guidance=fields["guidance"],
            seed=seed,
            n=fields.get("n", 1),
        )

    def model_problem(self, spec: Spec, offering: str, max_pixels: int) -> FieldProblem | None:
        if _image(spec).pixels > max_pixels:
            return FieldProblem(
                "width", f"width x height exceeds what {offering} allows", max_pixels
            )
        return None

    def pixels(self, spec: Spec) -> int:
        return _image(spec).pixels

    def needs_sampling_id(self, spec: Spec) -> bool:
        return False

    def quote(
        self, spec: Spec, multiplier_ppm: int, rates: Rates, prompt_tokens: int | None
    ) -> Quote:
        image = _image(spec)
        price = price_image(
            image.width,
            image.height,
            image.steps,
            image.n,
            multiplier_ppm=multiplier_ppm,
            rates=rates,
        )
        return Quote(price, image.work_units(), multiplier_ppm)

    def expected_run_s(self, spec: Spec) -> float:
        return _image(spec).work_units() / WORK_PER_S

    def decode_output(
        self, spec: Spec, images: Sequence[str] | None, text: Mapping[str, Any] | None
    ) -> Output:
        image = _image(spec)
        if images is None or len(images) != image.n:
            raise InvalidRequest(FieldProblem("results.images", "must hold n images", image.n))
        return ImageOutput(tuple(decode_png(t, image, i) for i, t in enumerate(images)))

    def encode_output(self, output: Output) -> dict[str, Any]:
        return {
            "images": [base64.b64encode(png).decode("ascii") for png in self.output_blobs(output)]
        }

    def output_blobs(self, output: Output) -> list[bytes]:
        if not isinstance(output, ImageOutput):
            raise TypeError("the image modality stores image outputs only")
        return list(output.images)

    def output_count(self, stored: int, completed: bool) -> int:
        return stored

    def result(
        self, blobs: Callable[[int], bytes], stored: int, index: int, fmt: str
    ) -> tuple[bytes, str]:
        blob, media_type = self.stored_result(stored, index, fmt)
        return blobs(blob), media_type

    def stored_result(self, stored: int, index: int, fmt: str) -> tuple[int, str]:
        if not 0 <= index < stored:
            raise InvalidRequest(FieldProblem("index", "no image at this index", stored - 1))
        return index, "image/png"

    def thresholds(self, stored: Mapping[str, Any]) -> Thresholds:
        from swarmgen.core.verification.imagecheck import ImageThresholds

        return ImageThresholds.from_mapping(stored)

    def compare(
        self, spec: Spec, claimed: Blobs, reference: Blobs, thresholds: Thresholds
    ) -> Comparison:
        # imported here: comparing is the coordinator's work; a worker never loads it
        from swarmgen.core.verification.failures import Failure
        from swarmgen.core.verification.imagecheck import (
            ImageThresholds,
            compare_image_sets,
            image_artifacts,
        )

        image = _image(spec)
        assert isinstance(thresholds, ImageThresholds)
        size = (image.width, image.height)
        claims = (
            claimed
            if isinstance(claimed, Failure)
            else tuple(image_artifacts(png, size) for png in claimed)
        )
        references = (
            reference
            if isinstance(reference, Failure)
            else tuple(image_artifacts(png, size) for png in reference)
        )
        return compare_image_sets(claims, references, image.n, thresholds)


IMAGE = ImageModality()
