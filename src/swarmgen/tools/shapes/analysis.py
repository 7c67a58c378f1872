"""Read a generated shapes image back: background colour, shapes, main shape colour.

Each pixel is labelled with its nearest named colour. The background is the most
common label on the image border; everything else is foreground, split into
connected components (tiny ones, such as blurred edges, are ignored). The main
shape is picked as the caption lays it out: the only or largest shape, or for
two shapes the one on the named side of the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from swarmgen.tools.shapes.scenes import COLORS, Scene

MIN_AREA = 12
"""Components smaller than this many pixels are noise, not shapes."""
_NAMES = list(COLORS)
_PALETTE = np.array([COLORS[n] for n in _NAMES], dtype=np.float32)


@dataclass(frozen=True)
class Blob:
    """One foreground component: its dominant colour, area and centroid."""

    color: str
    area: int
    x: float
    y: float


@dataclass(frozen=True)
class Reading:
    """What an image shows, in the caption's vocabulary."""

    background: str
    blobs: tuple[Blob, ...]
    """Components by decreasing area."""

    @property
    def count(self) -> int:
        return len(self.blobs)


@dataclass(frozen=True)
class Verdict:
    """Whether an image matches its caption on each checked attribute."""

    color: bool
    background: bool
    count: bool
    main_color: str | None


def label_colors(pixels: np.ndarray) -> np.ndarray:
    """Index into the palette of the nearest named colour, per pixel of ``(H, W, 3)``."""
    flat = pixels.reshape(-1, 3).astype(np.float32)
    distances = ((flat[:, None, :] - _PALETTE[None, :, :]) ** 2).sum(axis=2)
    labels: np.ndarray = distances.argmin(axis=1).reshape(pixels.shape[:2])
    return labels


def read_image(image: Image.Image) -> Reading:
    """Analyse an RGB image (any size; shapes-64 makes 64x64)."""
    labels = label_colors(np.asarray(image.convert("RGB")))
    border = np.concatenate([labels[0], labels[-1], labels[1:-1, 0], labels[1:-1, -1]])
    background = int(np.bincount(border, minlength=len(_NAMES)).argmax())
    components, found = ndimage.label(labels != background)
    blobs = []
    for index in range(1, found + 1):
        mask = components == index
        area = int(mask.sum())
        if area < MIN_AREA:
            continue
        color = int(np.bincount(labels[mask], minlength=len(_NAMES)).argmax())
        ys, xs = np.nonzero(mask)
        blobs.append(Blob(_NAMES[color], area, float(xs.mean()), float(ys.mean())))
    blobs.sort(key=lambda b: (-b.area, b.y, b.x))
    return Reading(_NAMES[background], tuple(blobs))


def main_blob(reading: Reading, expected: Scene) -> Blob | None:
    """The component that plays the caption's first-named shape, if any."""
    if not reading.blobs:
        return None
    if len(expected.shapes) != 2 or len(reading.blobs) < 2 or expected.relation is None:
        return reading.blobs[0]
    a, b = reading.blobs[0], reading.blobs[1]
    key = {
        "above": lambda blob: blob.y,
        "below": lambda blob: -blob.y,
        "left of": lambda blob: blob.x,
        "right of": lambda blob: -blob.x,
    }[expected.relation]
    return min((a, b), key=key)


def judge(image: Image.Image, expected: Scene) -> Verdict:
    """Compare an image with the scene its caption describes."""
    reading = read_image(image)
    main = main_blob(reading, expected)
    main_color = main.color if main is not None else None
    return Verdict(
        color=main_color == expected.shapes[0].color,
        background=reading.background == expected.background,
        count=reading.count == len(expected.shapes),
        main_color=main_color,
    )
