"""tiny-sd through the diffusers backend: reproducible PNG bytes, batching, precision."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from swarmgen.backends.diffusers_image import DiffusersImageBackend
from swarmgen.backends.tiny_sd import MODEL_INDEX, build_tiny_sd
from swarmgen.core.jobs import ImageSpec, Job
from swarmgen.core.offerings import Offering, Precision
from swarmgen.core.outputs import ImageOutput

pytestmark = pytest.mark.models

OFFERING = Offering.parse("tiny-sd@fp32")
STEPS = 4
ROUNDING = 1
"""Batch composition changes the float pixels in the last bits only; after rounding to
8 bits that shows as a difference of at most one level, on a few pixels."""


def job(job_id: str, seed: int, prompt: str = "a red circle", n: int = 1, **kw: object) -> Job:
    spec = ImageSpec(prompt=prompt, seed=seed, n=n, steps=STEPS, **kw)  # type: ignore[arg-type]
    return Job(job_id, OFFERING, spec)


def backend(cache: Path, precision: Precision | None = None) -> DiffusersImageBackend:
    made = DiffusersImageBackend(
        OFFERING, "builtin:tiny-sd", threads=1, cache_dir=cache, precision=precision
    )
    made.load()
    return made


def images(b: DiffusersImageBackend, jobs: list[Job]) -> list[tuple[bytes, ...]]:
    outs = b.run(jobs)
    assert all(isinstance(out, ImageOutput) for out in outs)
    return [out.images for out in outs if isinstance(out, ImageOutput)]


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def assert_same_up_to_rounding(
    first: list[tuple[bytes, ...]], second: list[tuple[bytes, ...]]
) -> None:
    assert [len(images) for images in first] == [len(images) for images in second]
    for a, b in zip(first, second, strict=True):
        for x, y in zip(a, b, strict=True):
            diff = np.abs(pixels(x) - pixels(y))
            assert int(diff.max()) <= ROUNDING
            assert float((diff > 0).mean()) < 0.01


@pytest.fixture(scope="module")
def fp32(model_cache: Path) -> DiffusersImageBackend:
    return backend(model_cache)


def test_build_is_idempotent(model_cache: Path) -> None:
    folder = build_tiny_sd(model_cache / "tiny-sd")
    index = folder / MODEL_INDEX
    stamp = os.stat(index).st_mtime_ns
    assert build_tiny_sd(folder) == folder
    assert os.stat(index).st_mtime_ns == stamp
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".tiny-sd-")]


def test_rebuild_gives_the_same_weights_and_spares_the_callers_rng(
    model_cache: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    rebuilt = build_tiny_sd(tmp_path / "tiny-sd")
    assert torch.equal(torch.rand(3), expected)
    cached = build_tiny_sd(model_cache / "tiny-sd")
    for part in ("unet", "vae", "text_encoder"):
        (name,) = [p.name for p in (cached / part).glob("*.safetensors")]
        mine, theirs = load_file(str(rebuilt / part / name)), load_file(str(cached / part / name))
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine)


def test_same_seed_gives_same_bytes_across_loads(
    fp32: DiffusersImageBackend, model_cache: Path
) -> None:
    first = images(fp32, [job("a", 11)])
    again = images(backend(model_cache), [job("a", 11)])
    assert first == again
    assert images(fp32, [job("b", 12)]) != first


def test_png_has_requested_size_and_no_metadata(fp32: DiffusersImageBackend) -> None:
    ((png,),) = images(fp32, [job("a", 11, width=64, height=128)])
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (64, 128)
    assert not image.info
    assert float(pixels(png).std()) > 0


def test_image_i_uses_seed_plus_i(fp32: DiffusersImageBackend) -> None:
    ((zero, one),) = images(fp32, [job("a", 20, n=2)])
    assert zero != one
    assert_same_up_to_rounding(images(fp32, [job("b", 20), job("c", 21)]), [(zero,), (one,)])


def test_batch_matches_one_by_one(fp32: DiffusersImageBackend) -> None:
    jobs = [job("a", 30, "a red circle"), job("b", 31, "a blue square", negative_prompt="dark")]
    alone = [images(fp32, [j])[0] for j in jobs]
    assert_same_up_to_rounding(images(fp32, jobs), alone)


def test_mixed_sizes_in_a_batch_keep_their_order(fp32: DiffusersImageBackend) -> None:
    jobs = [job("a", 40), job("b", 41, width=128), job("c", 42)]
    outs = images(fp32, jobs)
    assert [Image.open(io.BytesIO(out[0])).size for out in outs] == [(64, 64), (128, 64), (64, 64)]
    assert_same_up_to_rounding(outs, [images(fp32, [j])[0] for j in jobs])


@pytest.mark.parametrize("precision", [Precision.BF16, Precision.INT8])
def test_other_precisions_run_and_differ_from_fp32(
    precision: Precision, fp32: DiffusersImageBackend, model_cache: Path
) -> None:
    other = backend(model_cache, precision)
    assert other.offering == OFFERING
    reference = images(fp32, [job("a", 50)])
    changed = images(other, [job("a", 50)])
    assert changed != reference
    assert pixels(changed[0][0]).shape == pixels(reference[0][0]).shape
