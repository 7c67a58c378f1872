"""Image artifacts and their comparison.

The coordinator derives the artifacts itself from the PNG bytes a worker returned (it
never trusts a worker's hash): four perceptual hashes from :mod:`imagehash` (pHash at two
sizes, dHash, wHash), an RGB thumbnail for a pixel metric, and the decoded pixels for a
changed-pixel share. Distances are normalised to ``[0, 1]``: the fraction of differing
hash bits, the RMS difference of the thumbnails over the full 0-255 range, and the share
of pixels in which some channel moved by more than ``CHANGE_LEVELS``.

Two images disagree when the pixel distance or the changed share is past its calibrated
threshold, or when at least two of the hashes are. The hashes catch a different picture
(a cheap model, another seed), which moves all of them by many bits; the pixel metric
catches a slightly different rendering of the same picture (half the steps, a lower
precision) that coarse hashes forgive. The changed share catches a smaller cut of the
steps, which moves the edges of every shape by a few levels: averaged into a thumbnail
that can stay inside the pixel metric's hardware allowance, but counted pixel by pixel it
is far from what another correct fp32 run gives, since rounding moves a pixel by at most
one level there (decision record 0006). One hash alone never decides: each sets a bit by
comparing a coefficient with the median of all of them, so on flat scenes an honest
re-run's rounding noise can flip a few near-tied bits of one hash while the others stay
put.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import imagehash
import numpy as np
from PIL import Image, UnidentifiedImageError

from swarmgen.core.jobs import LIMITS
from swarmgen.core.verification.failures import (
    Comparison,
    Failure,
    FailureKind,
    Outcome,
    VerificationError,
    gate,
)

THUMB_SIDE = 16
"""Side of the RGB thumbnail the pixel metric compares (box-filtered: noise averages out)."""
CHANGE_LEVELS = 2
"""A pixel counts as changed when some channel differs by more than this many of 255 levels.

Rounding a float image to 8 bits on other hardware moves a pixel by one level at most;
the second level of slack forgives a rounding convention that differs by one level too.
"""
MAX_PIXELS = LIMITS.max_side * LIMITS.max_side
"""Largest image the coordinator decodes."""


@dataclass(frozen=True)
class ImageArtifacts:
    """What the coordinator keeps of one image to compare it: hashes, thumbnail and pixels.

    Hashes are the hex text :mod:`imagehash` prints; ``thumbnail`` is
    ``3 * THUMB_SIDE**2`` bytes of RGB, row-major; ``pixels`` is the whole decoded image,
    ``3 * width * height`` bytes of RGB, row-major, held only while comparing.
    """

    width: int
    height: int
    phash: str
    phash16: str
    dhash: str
    whash: str
    thumbnail: bytes
    pixels: bytes = field(default=b"", repr=False)

    def canonical(self) -> dict[str, Any]:
        """A JSON-ready form for ledger evidence (thumbnail as hex).

        The pixels are left out: they are the stored PNG itself, decoded.
        """
        data = asdict(self)
        data["thumbnail"] = self.thumbnail.hex()
        del data["pixels"]
        return data


@dataclass(frozen=True)
class ImageDistance:
    """Distances between two images, each in ``[0, 1]`` (0 = identical)."""

    phash: float
    phash16: float
    dhash: float
    whash: float
    pixel: float
    changed: float

    def items(self) -> tuple[tuple[str, float], ...]:
        return tuple((f.name, float(getattr(self, f.name))) for f in fields(self))


METRICS: tuple[str, ...] = tuple(f.name for f in fields(ImageDistance))
"""Names of the image metrics, in a fixed order."""
HASHES: tuple[str, ...] = ("phash", "phash16", "dhash", "whash")
"""The perceptual-hash metrics; each remaining one (``pixel``, ``changed``) decides alone."""
HASH_QUORUM = 2
"""How many hashes must be past their thresholds together to reject an image."""


@dataclass(frozen=True)
class ImageThresholds:
    """Largest distance per metric at which two images still agree, with how it was fit.

    ``false_positive`` is the share of honest pairs the thresholds reject in calibration,
    ``false_positive_bound`` its one-sided 95 % upper confidence bound (what verdicts
    should assume), ``detection`` the share of cheat pairs rejected. They are ``None``
    for uncalibrated defaults. ``changed`` defaults to 1.0, which no distance exceeds: the
    uncalibrated defaults must forgive rendering noise of unknown kind (a JPEG round trip
    moves most pixels by a few levels), so the changed share only decides once an
    offering is calibrated.
    """

    phash: float = 0.10
    phash16: float = 0.12
    dhash: float = 0.12
    whash: float = 0.16
    pixel: float = 0.04
    changed: float = 1.0
    false_positive: float | None = None
    false_positive_bound: float | None = None
    detection: float | None = None
    honest_samples: int = 0
    cheat_samples: int = 0

    def __post_init__(self) -> None:
        for name in METRICS:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise VerificationError(f"threshold {name}={value} is outside [0, 1]")

    def limit(self, metric: str) -> float:
        return float(getattr(self, metric))

    def as_mapping(self) -> dict[str, Any]:
        """The form stored under an offering's ``thresholds`` in the registry."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ImageThresholds:
        """Read thresholds from the registry; unknown keys are ignored, missing ones default."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _hash_hex(value: imagehash.ImageHash) -> str:
    return str(value)


def image_artifacts(
    png: bytes, expected_size: tuple[int, int] | None = None
) -> ImageArtifacts | Failure:
    """Decode ``png`` and compute its artifacts; any defect is a :class:`Failure`, never raised.

    ``expected_size`` is the job's ``(width, height)``; an image of another size fails.
    """
    if not png:
        return Failure(FailureKind.EMPTY, "no image bytes")
    try:
        with Image.open(io.BytesIO(png)) as opened:
            if opened.format != "PNG":
                return Failure(FailureKind.MALFORMED, f"not a PNG ({opened.format})")
            width, height = opened.size
            if width * height > MAX_PIXELS:
                return Failure(FailureKind.MALFORMED, f"{width}x{height} exceeds {MAX_PIXELS} px")
            if expected_size is not None and (width, height) != expected_size:
                want = f"{expected_size[0]}x{expected_size[1]}"
                return Failure(FailureKind.MALFORMED, f"size {width}x{height}, expected {want}")
            image = opened.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return Failure(FailureKind.MALFORMED, "cannot decode PNG")
    if width < 8 or height < 8:
        return Failure(FailureKind.MALFORMED, f"{width}x{height} is too small to hash")
    thumb = image.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX)
    return ImageArtifacts(
        width=width,
        height=height,
        phash=_hash_hex(imagehash.phash(image, hash_size=8)),
        phash16=_hash_hex(imagehash.phash(image, hash_size=16)),
        dhash=_hash_hex(imagehash.dhash(image, hash_size=8)),
        whash=_hash_hex(imagehash.whash(image, hash_size=8)),
        thumbnail=thumb.tobytes(),
        pixels=image.tobytes(),
    )


def _bits(hex_a: str, hex_b: str) -> float:
    if len(hex_a) != len(hex_b) or not hex_a:
        return 1.0
    differing = (int(hex_a, 16) ^ int(hex_b, 16)).bit_count()
    return differing / (4 * len(hex_a))


def _pixel(a: bytes, b: bytes) -> float:
    if len(a) != len(b) or not a:
        return 1.0
    diff = np.frombuffer(a, dtype=np.uint8).astype(np.float64) - np.frombuffer(
        b, dtype=np.uint8
    ).astype(np.float64)
    return float(math.sqrt(float(np.mean(diff * diff))) / 255.0)


def _changed(a: bytes, b: bytes) -> float:
    """Share of RGB pixels in which some channel differs by more than ``CHANGE_LEVELS``."""
    if len(a) != len(b) or not a or len(a) % 3:
        return 1.0
    left = np.frombuffer(a, dtype=np.uint8).reshape(-1, 3).astype(np.int16)
    right = np.frombuffer(b, dtype=np.uint8).reshape(-1, 3).astype(np.int16)
    moved = np.abs(left - right).max(axis=1) > CHANGE_LEVELS
    return float(np.count_nonzero(moved)) / len(moved)


def image_distance(a: ImageArtifacts, b: ImageArtifacts) -> ImageDistance:
    """Distances between two images' artifacts; symmetric, zero for identical images."""
    return ImageDistance(
        phash=_bits(a.phash, b.phash),
        phash16=_bits(a.phash16, b.phash16),
        dhash=_bits(a.dhash, b.dhash),
        whash=_bits(a.whash, b.whash),
        pixel=_pixel(a.thumbnail, b.thumbnail),
        changed=_changed(a.pixels, b.pixels),
    )


def ratios(distance: ImageDistance, thresholds: ImageThresholds) -> dict[str, float]:
    """Each metric's ``distance / threshold``; above 1 means that metric is past its limit.

    A zero threshold makes any positive distance an infinite ratio.
    """
    out = {}
    for name, value in distance.items():
        limit = thresholds.limit(name)
        out[name] = value / limit if limit > 0 else (math.inf if value > 0 else 0.0)
    return out


def _rejecting(by_metric: dict[str, float]) -> bool:
    over = {name for name, ratio in by_metric.items() if ratio > 1.0}
    return bool(over - set(HASHES)) or len(over & set(HASHES)) >= HASH_QUORUM


def rejects(distance: ImageDistance, thresholds: ImageThresholds) -> bool:
    """The decision rule: ``pixel`` or ``changed``, or ``HASH_QUORUM`` hashes, past their limits."""
    return _rejecting(ratios(distance, thresholds))


def images_agree(a: ImageArtifacts, b: ImageArtifacts, thresholds: ImageThresholds) -> bool:
    """True when the two images are the same size and :func:`rejects` does not reject them."""
    return compare_images(a, b, thresholds).passed


def compare_images(
    claimed: ImageArtifacts | Failure,
    reference: ImageArtifacts | Failure,
    thresholds: ImageThresholds,
) -> Comparison:
    """Compare a claimed image with a validator's; a :class:`Failure` on either side loses."""
    failed = gate(claimed, reference)
    if failed is not None:
        return failed
    assert isinstance(claimed, ImageArtifacts) and isinstance(reference, ImageArtifacts)
    if (claimed.width, claimed.height) != (reference.width, reference.height):
        detail = f"{claimed.width}x{claimed.height} vs {reference.width}x{reference.height}"
        return Comparison(Outcome.DISAGREE, "size", detail, math.inf)
    distance = image_distance(claimed, reference)
    worst_first = sorted(ratios(distance, thresholds).items(), key=lambda item: -item[1])
    metric, ratio = worst_first[0]
    if _rejecting(dict(worst_first)):
        detail = ", ".join(
            f"{name} {getattr(distance, name):.4f} > {thresholds.limit(name):.4f}"
            for name, over in worst_first
            if over > 1.0
        )
        return Comparison(Outcome.DISAGREE, metric, detail, ratio)
    return Comparison(Outcome.AGREE, "within_thresholds", "", ratio)


def compare_image_sets(
    claimed: tuple[ImageArtifacts | Failure, ...] | Failure,
    reference: tuple[ImageArtifacts | Failure, ...] | Failure,
    expected: int,
    thresholds: ImageThresholds,
) -> Comparison:
    """Compare all images of a job: the first non-agreeing pair decides.

    A side that returned a different number of images than the job's ``expected`` count
    has failed, just as if an image were unreadable.
    """
    if not isinstance(claimed, Failure) and len(claimed) != expected:
        claimed = Failure(FailureKind.MALFORMED, f"{len(claimed)} images, expected {expected}")
    if not isinstance(reference, Failure) and len(reference) != expected:
        reference = Failure(FailureKind.MALFORMED, f"{len(reference)} images, expected {expected}")
    failed = gate(claimed, reference)
    if failed is not None:
        return failed
    assert not isinstance(claimed, Failure) and not isinstance(reference, Failure)
    worst: Comparison | None = None
    for index, (mine, theirs) in enumerate(zip(claimed, reference, strict=True)):
        result = compare_images(mine, theirs, thresholds)
        if not result.passed:
            return Comparison(
                result.outcome, result.reason, f"image {index}: {result.detail}", result.distance
            )
        if worst is None or (result.distance or 0.0) > (worst.distance or 0.0):
            worst = result
    if worst is None:
        return Comparison(Outcome.CLAIM_FAILED, FailureKind.EMPTY.value, "no images")
    return worst
