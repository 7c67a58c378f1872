"""Every tier of shapes-64 and smollm2-135m loads offline through the same backends and is
deterministic for a seed at a fixed thread count."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmgen.backends.base import Backend
from swarmgen.backends.factory import make_backend
from swarmgen.core.jobs import ImageSpec, Job, TextSpec
from swarmgen.core.offerings import Offering
from swarmgen.core.outputs import ImageOutput, TextOutput
from swarmgen.registry import load_registry

pytestmark = pytest.mark.models

THREADS = 1
TIERS = ("fp16", "bf16", "int8", "int4")
STEPS = 4
"""Few denoising steps: fp16 convolutions are slow on a CPU, and determinism needs no more."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access during model loading")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield


def backend(text: str, cache: Path) -> Backend:
    offering = Offering.parse(text)
    made = make_backend(load_registry().entry(offering), offering, cache_dir=cache, threads=THREADS)
    made.load()
    return made


@pytest.fixture(scope="module")
def fp32_image(model_cache: Path) -> bytes:
    out = backend("shapes-64@fp32", model_cache).run([image_job("shapes-64@fp32")])[0]
    assert isinstance(out, ImageOutput)
    return out.images[0]


def image_job(offering: str, seed: int = 11) -> Job:
    spec = ImageSpec(
        prompt="a red circle on a blue background", width=64, height=64, steps=STEPS, seed=seed
    )
    return Job(f"i{seed}", Offering.parse(offering), spec)


@pytest.mark.parametrize("tier", TIERS)
def test_each_shapes_tier_is_deterministic_and_its_own_arithmetic(
    tier: str, model_cache: Path, fp32_image: bytes
) -> None:
    offering = f"shapes-64@{tier}"
    made = backend(offering, model_cache)
    first, again, other = made.run(
        [image_job(offering), image_job(offering), image_job(offering, 12)]
    )
    assert isinstance(first, ImageOutput) and isinstance(other, ImageOutput)
    assert first == again  # same seed, same threads: the same bytes
    assert first.images[0] != other.images[0]  # the seed matters
    assert first.images[0] != fp32_image  # the tier really ran at its own precision


def text_job(offering: str) -> Job:
    spec = TextSpec(prompt="Name three colours.", max_tokens=6, seed=3)
    return Job("t", Offering.parse(offering), spec)


@pytest.mark.parametrize("tier", TIERS)
def test_each_smollm2_tier_is_deterministic(tier: str, model_cache: Path) -> None:
    offering = f"smollm2-135m@{tier}"
    made = backend(offering, model_cache)
    (first,), (again,) = made.run([text_job(offering)]), made.run([text_job(offering)])
    assert isinstance(first, TextOutput) and first == again
    assert len(first.token_ids) == 6 and first.top_logprobs[0][0][1] <= 0.0
