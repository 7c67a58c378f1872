"""The echo backend: deterministic, well-shaped, cheap stand-in outputs."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from swarmgen.backends.base import BackendError, TextScorer
from swarmgen.backends.echo import EOS, SIDE, TOP_K, VOCAB, EchoBackend, solid_png
from swarmgen.core.jobs import SEED_MAX, ImageSpec, Job, Message, TextSpec
from swarmgen.core.offerings import Kind, Offering
from swarmgen.core.outputs import ImageOutput, TextOutput

IMAGE = Offering.parse("echo-image@fp32")
TEXT = Offering.parse("echo-text@fp32")


def image_job(job_id: str = "j1", seed: int = 7, n: int = 2, prompt: str = "a cat") -> Job:
    return Job(job_id, IMAGE, ImageSpec(prompt=prompt, seed=seed, n=n))


def text_job(job_id: str = "t1", seed: int = 7, max_tokens: int = 64) -> Job:
    spec = TextSpec(messages=(Message("user", "say hi"),), max_tokens=max_tokens, seed=seed)
    return Job(job_id, TEXT, spec)


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_images_are_valid_pngs_one_per_requested_image() -> None:
    job = image_job(n=3)
    (out,) = EchoBackend(IMAGE, Kind.IMAGE).run([job])
    assert isinstance(out, ImageOutput)
    assert isinstance(job.spec, ImageSpec)
    assert len(out.images) == 3
    for png in out.images:
        image = decode(png)
        assert image.format == "PNG"
        assert image.size == (job.spec.width, job.spec.height)
        assert image.mode == "RGB"
        assert len(image.getcolors() or []) == 1
    assert len(set(out.images)) == 3


def test_same_job_gives_identical_bytes_on_two_backends() -> None:
    job = image_job()
    first = EchoBackend(IMAGE, Kind.IMAGE).run([job])
    second = EchoBackend(IMAGE, Kind.IMAGE, max_batch=1).run([job])
    assert first == second
    assert first[0].digest() == second[0].digest()


def test_seed_or_prompt_change_changes_the_images() -> None:
    backend = EchoBackend(IMAGE, Kind.IMAGE)
    base, reseeded, reworded = backend.run(
        [image_job(), image_job(seed=8), image_job(prompt="a dog")]
    )
    assert base != reseeded
    assert base != reworded


def test_outputs_do_not_depend_on_batch_composition() -> None:
    backend = EchoBackend(IMAGE, Kind.IMAGE)
    jobs = [image_job(job_id=f"j{i}", seed=i) for i in range(4)]
    assert backend.run(jobs) == [backend.run([job])[0] for job in jobs]


PINNED_PNG_SHA256 = "32defd942f586414827a6cf8785b305449e63832ae2be7ac78e606a324904243"


def test_solid_png_bytes_are_pinned() -> None:
    # Echo workers on different releases must agree byte for byte on the same job,
    # so a change to the encoder is a breaking change and must show up here.
    png = solid_png((1, 2, 3))
    assert hashlib.sha256(png).hexdigest() == PINNED_PNG_SHA256
    assert decode(png).getpixel((SIDE - 1, SIDE - 1)) == (1, 2, 3)


@settings(max_examples=50, deadline=None)
@given(
    rgb=st.tuples(*(st.integers(0, 255),) * 3),
    side=st.integers(1, 32),
)
def test_solid_png_decodes_to_its_colour(rgb: tuple[int, int, int], side: int) -> None:
    image = decode(solid_png(rgb, side))
    assert image.size == (side, side)
    assert image.getcolors() == [(side * side, rgb)]


def test_text_has_real_shape() -> None:
    (out,) = EchoBackend(TEXT, Kind.TEXT).run([text_job()])
    assert isinstance(out, TextOutput)
    assert out.finish_reason == "stop"
    assert out.token_ids[-1] == EOS
    assert EOS not in out.token_ids[:-1]
    assert len(out.top_logprobs) == len(out.token_ids)
    assert out.text == " ".join(VOCAB[t] for t in out.token_ids[:-1])
    assert out.prompt_tokens == 2
    for token, position in zip(out.token_ids, out.top_logprobs, strict=True):
        ids = [tid for tid, _ in position]
        logprobs = [lp for _, lp in position]
        assert len(position) == TOP_K
        assert ids[0] == token
        assert len(set(ids)) == TOP_K
        assert all(0 <= tid < len(VOCAB) for tid in ids)
        assert all(lp < 0 for lp in logprobs)
        assert logprobs == sorted(logprobs, reverse=True)


def test_text_stops_at_max_tokens() -> None:
    (out,) = EchoBackend(TEXT, Kind.TEXT).run([text_job(max_tokens=2)])
    assert isinstance(out, TextOutput)
    assert len(out.token_ids) == 2
    assert out.finish_reason == "length"


def test_text_survives_its_canonical_form() -> None:
    (out,) = EchoBackend(TEXT, Kind.TEXT).run([text_job()])
    assert isinstance(out, TextOutput)
    assert TextOutput.from_canonical(out.canonical()) == out


def test_text_differs_between_jobs() -> None:
    backend = EchoBackend(TEXT, Kind.TEXT)
    outs = backend.run([text_job(job_id=f"t{i}", seed=i) for i in range(8)])
    assert len({out.digest() for out in outs}) == 8


def test_scoring_its_own_output_reproduces_it() -> None:
    backend = EchoBackend(TEXT, Kind.TEXT)
    scorer: TextScorer = backend
    job = text_job()
    (out,) = backend.run([job])
    assert isinstance(out, TextOutput)
    assert scorer.score(job, out.token_ids) == out.top_logprobs


def test_scoring_another_jobs_output_disagrees() -> None:
    backend = EchoBackend(TEXT, Kind.TEXT)
    (out,) = backend.run([text_job()])
    assert isinstance(out, TextOutput)
    other = text_job(job_id="t2", seed=SEED_MAX)
    assert backend.score(other, out.token_ids) != out.top_logprobs


@pytest.mark.parametrize(
    ("backend", "jobs", "reason"),
    [
        (EchoBackend(IMAGE, Kind.IMAGE), [text_job()], "is for"),
        (EchoBackend(TEXT, Kind.IMAGE), [text_job()], "is a text job"),
        (EchoBackend(IMAGE, Kind.IMAGE, max_batch=1), [image_job(), image_job()], "max_batch"),
    ],
)
def test_refuses_jobs_it_does_not_serve(backend: EchoBackend, jobs: list[Job], reason: str) -> None:
    with pytest.raises(BackendError, match=reason):
        backend.run(jobs)


def test_imports_without_torch() -> None:
    code = "import sys, swarmgen.backends.echo; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_sampled_text_carries_one_choice_margin_per_token_and_greedy_none() -> None:
    backend = EchoBackend(TEXT, Kind.TEXT)
    greedy = text_job()
    hot = Job("t2", TEXT, replace(greedy.spec, temperature=0.7))
    out, sampled = backend.run([greedy, hot])
    assert isinstance(out, TextOutput) and isinstance(sampled, TextOutput)
    assert out.choice_margins == ()
    assert len(sampled.choice_margins) == len(sampled.token_ids)
    assert all(0 < margin <= 0.5 for margin in sampled.choice_margins)
