"""The shipped shapes-64 pipeline: offline loading, determinism and accuracy."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from swarmgen.shapes import model_dir
from swarmgen.tools.shapes.evaluate import evaluate, generate, held_out_prompts

pytestmark = pytest.mark.models

THREADS = 2


@pytest.fixture(scope="module")
def pipe() -> Iterator[Any]:
    torch = pytest.importorskip("torch")
    from swarmgen.tools.shapes.pipeline import load_pipeline

    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")

        def refuse(*args: object, **kwargs: object) -> None:
            raise OSError("network access during model loading")

        patch.setattr(socket.socket, "connect", refuse)
        loaded = load_pipeline(model_dir())
    yield loaded
    torch.set_num_threads(previous)


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_loads_offline_as_a_standard_pipeline(pipe: Any) -> None:
    from diffusers import DDIMScheduler, StableDiffusionPipeline
    from transformers import BertModel

    from swarmgen.shapes.unet import ShapesUNet

    assert isinstance(pipe, StableDiffusionPipeline)
    assert isinstance(pipe.scheduler, DDIMScheduler)
    assert isinstance(pipe.unet, ShapesUNet)
    assert isinstance(pipe.text_encoder, BertModel)
    assert pipe.safety_checker is None
    image = generate(pipe, held_out_prompts(1)[0], seed=0)
    assert image.size == (64, 64)


def test_same_seed_same_png_bytes(pipe: Any) -> None:
    prompt = held_out_prompts(2)[1]
    first, second = (_png(generate(pipe, prompt, seed=11)) for _ in range(2))
    other = _png(generate(pipe, prompt, seed=12))
    assert first == second
    assert first != other


def test_prompt_changes_the_image(pipe: Any) -> None:
    a = _png(generate(pipe, "a large red circle on a white background", seed=3))
    b = _png(generate(pipe, "a large blue circle on a black background", seed=3))
    assert a != b


def test_accuracy_on_a_held_out_sample(pipe: Any) -> None:
    """A regression guard on the shipped weights (0003, 240 prompts: main colour 85.4 %,
    background 100 %, count 54.6 %; these 32 prompts are harder than most: 78 % colour).
    Two-shape scenes, whose main shape is found by the relation, are guarded apart: weights
    that ignore the relation word get them right about half the time."""
    report, samples = evaluate(pipe, held_out_prompts(32), threads=THREADS)
    assert len(samples) == 32
    assert report.color_accuracy >= 0.75, report
    assert report.background_accuracy >= 0.9, report
    assert report.count_accuracy >= 0.35, report
    right, total = report.color_by_shapes[2]
    assert total >= 10, report
    assert right >= 0.6 * total, report


def test_a_lone_shape_on_black_is_drawn_at_the_default_guidance(pipe: Any) -> None:
    """On earlier weights, without the registry's guidance rescale, this prompt and seed gave
    a flat black canvas at guidance 7.5 (the jobs' default), so every seed looked the same
    (0003, 0006); the shipped weights and sampling must draw it."""
    import numpy as np
    import torch

    from swarmgen.tools.shapes.evaluate import guidance_rescale

    def drawn(rescale: float) -> float:
        result = pipe(
            prompt=["a medium white star on a black background"],
            width=64,
            height=64,
            num_inference_steps=20,
            guidance_scale=7.5,
            guidance_rescale=rescale,
            generator=[torch.Generator("cpu").manual_seed(2 * 100_003 + 487)],
            output_type="np",
        )
        return float((np.asarray(result.images[0]) * 255).std(axis=(0, 1)).max())

    assert guidance_rescale() == 1.0
    assert drawn(guidance_rescale()) > 10.0
