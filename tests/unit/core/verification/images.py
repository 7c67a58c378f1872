"""Small synthetic PNGs for the image-check tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def scene(seed: int, side: int = 64) -> Image.Image:
    """A gradient background with a few coloured shapes placed by ``seed``."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, side, dtype=np.float64)
    base = np.stack(
        [np.add.outer(ramp, ramp) / 2, np.tile(ramp, (side, 1)), np.full((side, side), 90.0)],
        axis=-1,
    )
    image = Image.fromarray(base.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        x0, y0 = (int(v) for v in rng.integers(0, side // 2, 2))
        size = int(rng.integers(side // 6, side // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + size, y0 + size), fill=colour)
        else:
            draw.rectangle((x0, y0, x0 + size, y0 + size), fill=colour)
    return image


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def jpeg_roundtrip(image: Image.Image, quality: int) -> Image.Image:
    """The image after a lossy JPEG encode/decode: rendering-noise stand-in."""
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def noisy(image: Image.Image, sigma: float, seed: int = 0) -> Image.Image:
    """The image with Gaussian pixel noise of standard deviation ``sigma`` (0-255 scale)."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image, dtype=np.float64) + rng.normal(0.0, sigma, (*image.size[::-1], 3))
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")
