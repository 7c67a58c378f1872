"""SmolLM2-135M through the transformers backend: deterministic, reproducible, scorable."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from swarmgen.backends import smollm2
from swarmgen.backends.transformers_text import TransformersTextBackend
from swarmgen.core.jobs import Job, Message, TextSpec
from swarmgen.core.offerings import Offering, Precision
from swarmgen.core.outputs import TextOutput
from swarmgen.core.verification import TextThresholds, check_text

pytestmark = pytest.mark.models

OFFERING = Offering.parse("smollm2-135m@fp32")
TOKENS = 12
TOLERANCE = 1e-3
"""Incremental decoding with a KV cache and one teacher-forced pass sum in another
order; their logprobs agree to float32 rounding, far inside this."""


def chat(
    job_id: str = "g1", max_tokens: int = TOKENS, question: str = "Name three colours."
) -> Job:
    spec = TextSpec(messages=(Message("user", question),), max_tokens=max_tokens, seed=5)
    return Job(job_id, OFFERING, spec)


def sampled(job_id: str = "s1", seed: int = 5) -> Job:
    spec = TextSpec(prompt="Once upon a time", max_tokens=TOKENS, temperature=1.0, seed=seed)
    return Job(job_id, OFFERING, spec)


def generate(backend: TransformersTextBackend, job: Job) -> TextOutput:
    (out,) = backend.run([job])
    assert isinstance(out, TextOutput)
    return out


@pytest.fixture(scope="module")
def backend(model_cache: Path) -> TransformersTextBackend:
    made = TransformersTextBackend(OFFERING, "builtin:smollm2-135m", model_cache, threads=1)
    made.load()
    return made


def test_conversion_is_cached(backend: TransformersTextBackend, model_cache: Path) -> None:
    folder = model_cache / smollm2.FOLDER
    assert (folder / "model.safetensors").is_file()
    assert not [p for p in model_cache.iterdir() if p.name.startswith(f".{smollm2.FOLDER}-")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(smollm2, "gguf_path", lambda: pytest.fail("converted a second time"))
        assert smollm2.convert_smollm2(model_cache) == folder


def test_greedy_is_deterministic_and_well_shaped(backend: TransformersTextBackend) -> None:
    out = generate(backend, chat())
    assert out == generate(backend, chat(job_id="other-id"))
    assert 0 < len(out.token_ids) <= TOKENS
    assert len(out.top_logprobs) == len(out.token_ids)
    assert out.prompt_tokens == len(backend.prompt_ids(chat()))
    assert out.text.strip()
    for token, position in zip(out.token_ids, out.top_logprobs, strict=True):
        assert len(position) == backend.top_k
        assert position[0][0] == token
        logprobs = [lp for _, lp in position]
        assert logprobs == sorted(logprobs, reverse=True)
        assert all(lp <= 0 for lp in logprobs)


def test_greedy_matches_transformers_generate(backend: TransformersTextBackend) -> None:
    import torch

    job = chat()
    prompt = backend.prompt_ids(job)
    out = generate(backend, job)
    with torch.inference_mode():
        reference = backend._model.generate(
            torch.tensor([prompt]), max_new_tokens=TOKENS, do_sample=False
        )
    assert tuple(reference[0, len(prompt) :].tolist()) == out.token_ids


def test_stop_and_length(backend: TransformersTextBackend) -> None:
    short = generate(backend, chat(max_tokens=2))
    assert (len(short.token_ids), short.finish_reason) == (2, "length")
    full = generate(backend, chat(max_tokens=32, question="What is the capital of France?"))
    assert full.finish_reason == "stop"
    assert full.token_ids[-1] in backend._eos


@pytest.mark.parametrize("greedy", [True, False])
def test_score_reproduces_the_claimed_logprobs(
    backend: TransformersTextBackend, greedy: bool
) -> None:
    job = chat() if greedy else sampled()
    out = generate(backend, job)
    scored = backend.score(job, out.token_ids)
    assert len(scored) == len(out.token_ids)
    for token, claimed, checked in zip(out.token_ids, out.top_logprobs, scored, strict=True):
        # A sampled token may honestly lie outside the top-k.
        assert token in [tid for tid, _ in checked] or not greedy
        assert [tid for tid, _ in checked] == [tid for tid, _ in claimed]
        for (_, a), (_, b) in zip(claimed, checked, strict=True):
            assert abs(a - b) < TOLERANCE


def test_score_flags_tokens_the_model_would_not_write(backend: TransformersTextBackend) -> None:
    job = chat()
    out = generate(backend, job)
    forged = (out.token_ids[0], out.token_ids[1] + 1000, *out.token_ids[2:])
    scored = backend.score(job, forged)
    assert forged[1] not in [tid for tid, _ in scored[1]]


def test_sampling_is_reproducible_from_seed_and_sampling_id(
    backend: TransformersTextBackend,
) -> None:
    out = generate(backend, sampled())
    assert generate(backend, sampled()) == out
    assert len(out.choice_margins) == len(out.token_ids)
    assert all(0.0 <= margin <= 0.5 for margin in out.choice_margins)
    blinded = replace(sampled(job_id="validation"), sampling_id=sampled().id)
    assert generate(backend, blinded) == out
    assert generate(backend, sampled(job_id="s2")).token_ids != out.token_ids
    assert generate(backend, sampled(seed=6)).token_ids != out.token_ids


def test_a_blinded_run_exposes_a_prefilled_answer(backend: TransformersTextBackend) -> None:
    job = sampled()
    honest = generate(backend, job)
    # Text written without the job's sampler (here: greedy), scored by the real model.
    written = generate(
        backend,
        Job(job.id, OFFERING, TextSpec(prompt="Once upon a time", max_tokens=TOKENS, seed=5)),
    )
    prefilled = replace(
        written,
        top_logprobs=backend.score(job, written.token_ids),
        choice_margins=(0.25,) * len(written.token_ids),
    )
    assert prefilled.token_ids != honest.token_ids
    result = check_text(prefilled, honest, True, TextThresholds())
    assert result.reason == "different_choice", result.detail


def test_int8_runs_another_distribution(
    backend: TransformersTextBackend, model_cache: Path
) -> None:
    cheat = TransformersTextBackend(
        OFFERING, "builtin:smollm2-135m", model_cache, threads=1, precision=Precision.INT8
    )
    out = generate(cheat, chat())
    honest = generate(backend, chat())
    assert out.top_logprobs != honest.top_logprobs
    assert len(backend.score(chat(), out.token_ids)) == len(out.token_ids)
