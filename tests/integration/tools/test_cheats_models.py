"""The zoo on real models: each text cheat changes what it claims and fails the check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from swarmgen.backends.factory import make_backend
from swarmgen.core.offerings import Kind, Offering
from swarmgen.core.outputs import ImageOutput, TextOutput
from swarmgen.core.verification import TextThresholds
from swarmgen.registry import Registry, load_registry
from swarmgen.tools.calibration import check_text_claim, image_jobs, run_batched, text_jobs
from swarmgen.tools.cheats import Cheat, cheats_for
from swarmgen.tools.cheats.build import make_cheater

pytestmark = pytest.mark.models

TEXT = Offering.parse("smollm2-135m@fp32")
IMAGE = Offering.parse("tiny-sd@fp32")


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


@pytest.fixture(scope="module")
def honest(registry: Registry, model_cache: Path) -> Any:
    backend = make_backend(registry.entry(TEXT), TEXT, cache_dir=model_cache, threads=1)
    backend.load()
    return backend


JOBS = text_jobs(TEXT, 2, seed=5, max_tokens=8, prompts=["Name three colours."])
"""One greedy and one sampled job. A prompt on which the cheap model's first greedy
tokens differ from SmolLM2's: where they agree (e.g. "Name three things about the
sea."), the prefill cheat's greedy claim is an honest answer token for token."""

MEASURED_ONLY = {Cheat.BF16}
"""Cheats without a per-check detection target (0006: bf16 is caught on about 97 % of
checks, its logprob distance straddling the limit on short greedy answers): one of the
two claims must fail here, and ``bench/verify.py`` measures the rate."""


def texts(outputs: list[Any]) -> list[TextOutput]:
    assert all(isinstance(out, TextOutput) for out in outputs)
    return outputs


@pytest.mark.parametrize("cheat", cheats_for(Kind.TEXT))
def test_text_cheats_change_the_claim_and_fail(
    cheat: Cheat, registry: Registry, honest: Any, model_cache: Path
) -> None:
    thresholds = TextThresholds.from_mapping(registry.offering(TEXT).thresholds)
    truth = texts(run_batched(honest, JOBS, 1))
    cheater = make_cheater(registry, TEXT, cheat, cache_dir=model_cache, threads=1, inner=honest)
    claims = texts(run_batched(cheater, JOBS, 1))
    caught = []
    for job, claim, real in zip(JOBS, claims, truth, strict=True):
        assert check_text_claim(job, real, real, thresholds).passed
        assert (claim.token_ids, claim.top_logprobs) != (real.token_ids, real.top_logprobs)
        caught.append(not check_text_claim(job, claim, real, thresholds).passed)
    if cheat in MEASURED_ONLY:
        assert any(caught), f"{cheat.value} passed every check"
    else:
        assert all(caught), f"{cheat.value} passed a check: {caught}"
    if cheat is Cheat.TRUNCATED:
        assert all(len(c.token_ids) <= 8 // 2 + 1 and c.finish_reason == "stop" for c in claims)
    if cheat is Cheat.PREFILL:
        assert all(
            c.top_logprobs == honest.score(j, c.token_ids)
            for j, c in zip(JOBS, claims, strict=True)
        )


def test_undeclared_int8_changes_the_pixels(registry: Registry, model_cache: Path) -> None:
    jobs = image_jobs(IMAGE, 2, seed=5, steps=4)
    entry = registry.entry(IMAGE)
    honest = make_backend(entry, IMAGE, cache_dir=model_cache, threads=1)
    cheater = make_cheater(registry, IMAGE, Cheat.INT8, cache_dir=model_cache, threads=1)
    for real, claim in zip(
        run_batched(honest, jobs, 1), run_batched(cheater, jobs, 1), strict=True
    ):
        assert isinstance(real, ImageOutput) and isinstance(claim, ImageOutput)
        assert real.images != claim.images
