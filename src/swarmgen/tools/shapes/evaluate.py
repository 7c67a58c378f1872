"""Evaluate shapes-64 on held-out prompts by reading its images back.

Prompts come from the held-out split (captions never seen in training), drawn from
their own seed. Each is generated exactly as the image backend does (20 steps,
classifier-free guidance, one CPU generator per image) and judged by
:mod:`swarmgen.tools.shapes.analysis`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image

from swarmgen.tools.shapes.analysis import Verdict, judge
from swarmgen.tools.shapes.scenes import parse_caption, scenes

log = logging.getLogger(__name__)

EVAL_SEED = 1_000_003
"""Seed of the held-out prompt stream (training uses small seeds)."""
STEPS = 20
GUIDANCE = 4.0


@cache
def guidance_rescale() -> float:
    """The guidance rescale the shipped registry gives shapes-64, as workers sample with it."""
    from swarmgen.registry import load_registry

    return float(load_registry().models["shapes-64"].options.get("guidance_rescale", 0.0))


@dataclass(frozen=True)
class Sample:
    """One generated image with its prompt and verdict."""

    prompt: str
    seed: int
    image: Image.Image
    verdict: Verdict


@dataclass(frozen=True)
class Report:
    """Accuracies over a set of held-out prompts."""

    prompts: int
    color_accuracy: float
    background_accuracy: float
    count_accuracy: float
    seconds_per_image: float
    steps: int
    guidance_scale: float
    guidance_rescale: float
    threads: int
    color_by_shapes: dict[int, tuple[int, int]]
    """Main-shape colour by the caption's number of shapes: (right, prompts)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "prompts": self.prompts,
            "color_accuracy": round(self.color_accuracy, 4),
            "color_by_shapes": {
                str(count): f"{right}/{total}"
                for count, (right, total) in sorted(self.color_by_shapes.items())
            },
            "background_accuracy": round(self.background_accuracy, 4),
            "count_accuracy": round(self.count_accuracy, 4),
            "seconds_per_image": round(self.seconds_per_image, 4),
            "steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "guidance_rescale": self.guidance_rescale,
            "threads": self.threads,
        }


def held_out_prompts(count: int, seed: int = EVAL_SEED) -> list[str]:
    """``count`` evaluation captions, none of which occurs in training data."""
    return [scene.caption for scene in scenes(seed, count, held_out=True)]


def generate(pipe: Any, prompt: str, seed: int, steps: int = STEPS) -> Image.Image:
    """One 64x64 image, called the way the image backend calls the pipeline."""
    import torch

    result = pipe(
        prompt=[prompt],
        negative_prompt=[""],
        width=64,
        height=64,
        num_inference_steps=steps,
        guidance_scale=GUIDANCE,
        guidance_rescale=guidance_rescale(),
        generator=[torch.Generator("cpu").manual_seed(seed)],
        output_type="pil",
    )
    image: Image.Image = result.images[0]
    return image


def evaluate(
    pipe: Any,
    prompts: list[str],
    *,
    threads: int = 2,
    steps: int = STEPS,
    on_sample: Callable[[Sample], None] | None = None,
) -> tuple[Report, list[Sample]]:
    """Generate one image per prompt (image ``i`` uses seed ``i``) and score them."""
    import torch

    torch.set_num_threads(threads)
    samples: list[Sample] = []
    by_shapes: dict[int, tuple[int, int]] = {}
    generating = 0.0
    for index, prompt in enumerate(prompts):
        expected = parse_caption(prompt)
        started = time.perf_counter()
        image = generate(pipe, prompt, index, steps)
        generating += time.perf_counter() - started
        sample = Sample(prompt, index, image, judge(image, expected))
        samples.append(sample)
        right, total = by_shapes.get(len(expected.shapes), (0, 0))
        by_shapes[len(expected.shapes)] = (right + sample.verdict.color, total + 1)
        if on_sample is not None:
            on_sample(sample)
    total = max(1, len(samples))
    report = Report(
        prompts=len(samples),
        color_accuracy=sum(s.verdict.color for s in samples) / total,
        background_accuracy=sum(s.verdict.background for s in samples) / total,
        count_accuracy=sum(s.verdict.count for s in samples) / total,
        seconds_per_image=generating / total,
        steps=steps,
        guidance_scale=GUIDANCE,
        guidance_rescale=guidance_rescale(),
        threads=threads,
        color_by_shapes=by_shapes,
    )
    return report, samples


def save_grid(samples: list[Sample], image_path: Path, columns: int = 8, scale: int = 2) -> Path:
    """Write a grid of the samples and, next to it, their prompts (one per line, row-major)."""
    side = 64 * scale
    rows = (len(samples) + columns - 1) // columns
    grid = Image.new("RGB", (columns * side, rows * side), (255, 255, 255))
    for i, sample in enumerate(samples):
        tile = sample.image.resize((side, side), Image.Resampling.NEAREST)
        grid.paste(tile, ((i % columns) * side, (i // columns) * side))
    image_path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(image_path, format="PNG", optimize=True)
    lines = [
        f"{i // columns},{i % columns}\tseed={s.seed}\t{s.prompt}" for i, s in enumerate(samples)
    ]
    prompts_path = image_path.with_suffix(".txt")
    sampling = f"{STEPS} steps, guidance {GUIDANCE}, rescale {guidance_rescale()}"
    header = f"# row,column  seed  prompt  ({sampling})"
    prompts_path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return prompts_path
