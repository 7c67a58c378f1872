"""The diffusers backend: text-to-image with a ``StableDiffusionPipeline`` on the CPU.

Reproducibility rules (verification relies on them):

- image ``i`` of a job with seed ``s`` starts from latents drawn by a CPU
  ``torch.Generator`` seeded with ``s + i``, so the start never depends on the device
  or on the other jobs in the batch;
- torch's thread count is pinned;
- PNGs are written by Pillow with a fixed compression level and no metadata, so the
  same pixels always give the same bytes.

Jobs in a batch that share size, steps and guidance run as one pipeline call.

A model may set ``guidance_rescale`` in its registry options (diffusers' rescaling of the
guided prediction to the conditional one's spread, for zero-terminal-SNR schedules); every
worker and validator of that model samples with it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swarmgen.backends.base import BackendError, check_jobs, seed_of
from swarmgen.backends.precision import (
    apply_pins,
    default_pins,
    inference,
    load_dtype,
    pin_threads,
)
from swarmgen.core.jobs import ImageSpec, Job, guidance_text
from swarmgen.core.offerings import Kind, Offering, Precision
from swarmgen.core.outputs import ImageOutput, Output
from swarmgen.core.tiers import TierPins

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from swarmgen.backends.plugins import BackendRequest

logger = logging.getLogger(__name__)

PNG_COMPRESS_LEVEL = 6


def encode_png(pixels: npt.NDArray[np.uint8]) -> bytes:
    """Deterministic PNG bytes of an ``(height, width, 3)`` uint8 array."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(
        buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL, optimize=False
    )
    return buffer.getvalue()


def to_uint8(images: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """Pipeline floats in [0, 1] to 8-bit pixels, rounding to nearest."""
    import numpy as np

    scaled = np.clip(images.astype(np.float32), 0.0, 1.0) * 255.0
    pixels: npt.NDArray[np.uint8] = np.rint(scaled).astype(np.uint8)
    return pixels


def _group_key(spec: ImageSpec) -> tuple[int, int, int, str]:
    return (spec.width, spec.height, spec.steps, guidance_text(spec.guidance))


class DiffusersImageBackend:
    """A :class:`~swarmgen.backends.base.Backend` for a Stable Diffusion style model."""

    def __init__(
        self,
        offering: Offering,
        source: str,
        threads: int,
        max_batch: int = 4,
        *,
        precision: Precision | None = None,
        pins: TierPins | None = None,
        cache_dir: Path | None = None,
        guidance_rescale: float = 0.0,
    ) -> None:
        """``source`` is a folder, a hub id or ``builtin:NAME`` (which needs ``cache_dir``).

        ``precision`` is what actually runs; it defaults to the offering's own, and
        ``pins`` say how it is computed (default: :func:`default_pins` of it).
        """
        self.offering = offering
        self.source = source
        self.threads = threads
        self.max_batch = max_batch
        self.precision = precision or offering.precision
        self.pins = pins or default_pins(self.precision)
        if not 0.0 <= guidance_rescale <= 1.0:
            raise BackendError(f"guidance_rescale {guidance_rescale} is outside [0, 1]")
        self.guidance_rescale = guidance_rescale
        self.cache_dir = cache_dir
        self._pipe: Any = None

    def load(self) -> None:
        """Resolve the source, load the pipeline at :attr:`precision`; idempotent."""
        if self._pipe is not None:
            return
        from diffusers import StableDiffusionPipeline
        from diffusers.utils import logging as diffusers_logging

        from swarmgen.backends.sources import resolve_source

        pin_threads(self.threads)
        dtype = load_dtype(self.pins)
        path = resolve_source(self.source, self.cache_dir)
        diffusers_logging.disable_progress_bar()
        pipe = StableDiffusionPipeline.from_pretrained(  # type: ignore[no-untyped-call]
            path, dtype=dtype, safety_checker=None, requires_safety_checker=False
        )
        pipe.set_progress_bar_config(disable=True)
        for part in ("unet", "text_encoder"):
            setattr(pipe, part, apply_pins(self.pins, part, getattr(pipe, part)))
        self._pipe = pipe
        logger.info(
            "loaded %s from %s at %s (%s)",
            self.offering,
            path,
            self.precision,
            self.pins.describe(),
        )

    def run(self, jobs: Sequence[Job]) -> list[Output]:
        """Images for each job, grouping jobs that can share one pipeline call."""
        check_jobs(self.offering, Kind.IMAGE, jobs, self.max_batch)
        self.load()
        pin_threads(self.threads)
        groups: dict[tuple[int, int, int, str], list[int]] = {}
        for index, job in enumerate(jobs):
            assert isinstance(job.spec, ImageSpec)
            groups.setdefault(_group_key(job.spec), []).append(index)
        results: list[Output | None] = [None] * len(jobs)
        for indices in groups.values():
            group = [jobs[i] for i in indices]
            for index, output in zip(indices, self._run_group(group), strict=True):
                results[index] = output
        return [out for out in results if out is not None]

    def _run_group(self, jobs: Sequence[Job]) -> list[ImageOutput]:
        import torch

        prompts: list[str] = []
        negatives: list[str] = []
        generators: list[torch.Generator] = []
        for job in jobs:
            spec = job.spec
            assert isinstance(spec, ImageSpec)
            seed = seed_of(job)
            for i in range(spec.n):
                prompts.append(spec.prompt)
                negatives.append(spec.negative_prompt)
                generators.append(torch.Generator("cpu").manual_seed(seed + i))
        first = jobs[0].spec
        assert isinstance(first, ImageSpec)
        with inference():
            result = self._pipe(
                prompt=prompts,
                negative_prompt=negatives,
                width=first.width,
                height=first.height,
                num_inference_steps=first.steps,
                guidance_scale=first.guidance,
                guidance_rescale=self.guidance_rescale,
                generator=generators,
                output_type="np",
            )
        pixels = to_uint8(result.images)
        outputs = []
        start = 0
        for job in jobs:
            assert isinstance(job.spec, ImageSpec)
            count = job.spec.n
            outputs.append(ImageOutput(tuple(encode_png(p) for p in pixels[start : start + count])))
            start += count
        return outputs


def build(request: BackendRequest) -> DiffusersImageBackend:
    """The diffusers backend for a registry entry (``backend = "diffusers"``)."""
    return DiffusersImageBackend(
        request.offering,
        request.entry.source,
        request.threads,
        max_batch=int(request.option("max_batch", 4)),
        precision=request.run_precision,
        pins=request.tier,
        cache_dir=request.cache_dir,
        guidance_rescale=float(request.option("guidance_rescale", 0.0)),
    )
