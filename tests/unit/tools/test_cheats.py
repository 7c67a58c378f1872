"""The cheater zoo on the echo backend: each cheat changes what it should, and only that."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from swarmgen.backends.base import BackendError
from swarmgen.backends.echo import EOS, VOCAB, EchoBackend
from swarmgen.core.jobs import ImageSpec, Job, Message, TextSpec
from swarmgen.core.offerings import Kind, Offering, Precision
from swarmgen.core.outputs import ImageOutput, TextOutput
from swarmgen.core.verification import Comparison, Outcome, Status, TextThresholds, check_text
from swarmgen.core.verification.escalation import EscalationPolicy
from swarmgen.registry import load_registry
from swarmgen.tools.cheats import (
    Cheat,
    CheatingBackend,
    ColludingValidator,
    HonestValidator,
    LazyValidator,
    alter_prompt,
    cheats_for,
    run_panel,
)
from swarmgen.tools.cheats.build import make_cheater

IMAGE = Offering.parse("echo-image@fp32")
TEXT = Offering.parse("echo-text@fp32")
OTHER = Offering.parse("echo-other@fp32")


def image_job(job_id: str, seed: int = 7, prompt: str = "a red circle", n: int = 1) -> Job:
    return Job(job_id, IMAGE, ImageSpec(prompt=prompt, seed=seed, n=n, width=64, height=64))


def text_job(job_id: str, max_tokens: int = 16, temperature: float = 0.0) -> Job:
    spec = TextSpec(
        messages=(Message("user", f"say hi {job_id}"),),
        max_tokens=max_tokens,
        temperature=temperature,
        seed=3,
    )
    return Job(job_id, TEXT, spec)


def honest(kind: Kind) -> EchoBackend:
    return EchoBackend(IMAGE if kind is Kind.IMAGE else TEXT, kind)


def cheater(cheat: Cheat, kind: Kind, rate: float = 1.0, **kw: object) -> CheatingBackend:
    return CheatingBackend(honest(kind), cheat, rate, seed=5, **kw)  # type: ignore[arg-type]


def pngs(output: object) -> tuple[bytes, ...]:
    assert isinstance(output, ImageOutput)
    return output.images


def text(output: object) -> TextOutput:
    assert isinstance(output, TextOutput)
    return output


JOBS = [image_job(f"j{i}", seed=i) for i in range(8)]


@pytest.mark.parametrize(
    "cheat",
    [Cheat.WRONG_SEED, Cheat.FEWER_STEPS, Cheat.FEWER_STEPS_25, Cheat.ALTERED_PROMPT],
)
def test_altered_job_cheats_change_every_image(cheat: Cheat) -> None:
    outputs = cheater(cheat, Kind.IMAGE).run(JOBS)
    truth = honest(Kind.IMAGE).run(JOBS)
    assert all(pngs(a) != pngs(b) for a, b in zip(outputs, truth, strict=True))


def test_rate_zero_is_honest_and_partial_rates_are_reproducible() -> None:
    truth = [pngs(o) for o in honest(Kind.IMAGE).run(JOBS)]
    assert [pngs(o) for o in cheater(Cheat.WRONG_SEED, Kind.IMAGE, 0.0).run(JOBS)] == truth
    half = cheater(Cheat.WRONG_SEED, Kind.IMAGE, 0.5)
    picked = [half.cheats_on(job) for job in JOBS * 4 + [image_job(f"x{i}") for i in range(64)]]
    assert 0 < sum(picked) < len(picked)
    first = [pngs(o) for o in half.run(JOBS)]
    assert first == [pngs(o) for o in half.run(JOBS)]
    changed = [a != b for a, b in zip(first, truth, strict=True)]
    assert changed == [half.cheats_on(job) for job in JOBS]


@pytest.mark.parametrize(
    ("cheat", "asked", "run"),
    [
        (Cheat.FEWER_STEPS, 20, 10),
        (Cheat.FEWER_STEPS_25, 20, 15),
        (Cheat.FEWER_STEPS_10, 20, 18),
        (Cheat.FEWER_STEPS_25, 7, 5),  # never less than the named cut
        (Cheat.FEWER_STEPS, 1, 1),  # a job of one step still runs one
    ],
)
def test_fewer_steps_cheats_cut_the_named_share(cheat: Cheat, asked: int, run: int) -> None:
    seen: list[Job] = []

    class Recorder(EchoBackend):
        def run(self, jobs):  # type: ignore[no-untyped-def]
            seen.extend(jobs)
            return super().run(jobs)

    job = image_job("a")
    assert isinstance(job.spec, ImageSpec)
    job = replace(job, spec=replace(job.spec, steps=asked))
    CheatingBackend(Recorder(IMAGE, Kind.IMAGE), cheat).run([job])
    assert isinstance(seen[0].spec, ImageSpec) and seen[0].spec.steps == run


def test_only_the_step_cheats_cut_steps() -> None:
    cutting = {cheat for cheat in Cheat if cheat.steps_cut}
    assert cutting == {Cheat.FEWER_STEPS, Cheat.FEWER_STEPS_25, Cheat.FEWER_STEPS_10}
    assert all(Kind.IMAGE in cheat.kinds and not cheat.needs_accomplice for cheat in cutting)


def test_noise_returns_random_pixels_of_the_requested_size() -> None:
    out = pngs(cheater(Cheat.NOISE, Kind.IMAGE).run([image_job("n", n=2)])[0])
    assert len(out) == 2 and out[0] != out[1]
    with Image.open(io.BytesIO(out[0])) as image:
        assert image.size == (64, 64)
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 1000


def test_copy_returns_an_earlier_jobs_output() -> None:
    backend = cheater(Cheat.COPY, Kind.IMAGE)
    first, second, third = backend.run(JOBS[:3])
    assert pngs(first) == pngs(honest(Kind.IMAGE).run(JOBS[:1])[0])
    assert pngs(second) == pngs(first) == pngs(third)


def test_alter_prompt_swaps_one_word_or_extends() -> None:
    assert alter_prompt("a large red circle on a white background") == (
        "a large blue circle on a white background"
    )
    assert alter_prompt("a redbrick house") == "a redbrick house, in another style"


def test_other_model_runs_the_accomplice_under_its_own_offering() -> None:
    accomplice = EchoBackend(OTHER, Kind.IMAGE)
    out = cheater(Cheat.OTHER_MODEL, Kind.IMAGE, accomplice=accomplice).run(JOBS[:2])
    want = accomplice.run([Job(j.id, OTHER, j.spec) for j in JOBS[:2]])
    assert [pngs(o) for o in out] == [pngs(o) for o in want]


def test_random_tokens_fill_max_tokens_from_the_vocabulary_and_fail_the_check() -> None:
    job = text_job("r", max_tokens=12)
    out = text(
        cheater(Cheat.RANDOM_TOKENS, Kind.TEXT, vocab_size=len(VOCAB), eos_id=EOS).run([job])[0]
    )
    assert len(out.token_ids) == 12 and all(0 <= t < len(VOCAB) for t in out.token_ids)
    validator = text(honest(Kind.TEXT).run([job])[0])
    assert not check_text(out, validator, False, TextThresholds()).passed


def test_truncated_runs_half_the_tokens_and_claims_an_end_token() -> None:
    seen: list[Job] = []

    class Recorder(EchoBackend):
        def run(self, jobs):  # type: ignore[no-untyped-def]
            seen.extend(jobs)
            return super().run(jobs)

    job = text_job("t", max_tokens=4)  # shorter than any echo text, so the cut bites
    backend = CheatingBackend(
        Recorder(TEXT, Kind.TEXT), Cheat.TRUNCATED, vocab_size=len(VOCAB), eos_id=EOS
    )
    out = text(backend.run([job])[0])
    assert isinstance(seen[0].spec, TextSpec) and seen[0].spec.max_tokens == 2
    assert out.token_ids[-1] == EOS and out.finish_reason == "stop"
    assert len(out.token_ids) == len(out.top_logprobs) == 3


def test_prefill_claims_the_writers_tokens_with_the_real_models_scores() -> None:
    writer = EchoBackend(OTHER, Kind.TEXT)
    job = text_job("p")
    out = text(cheater(Cheat.PREFILL, Kind.TEXT, accomplice=writer).run([job])[0])
    written = text(writer.run([Job(job.id, OTHER, job.spec)])[0])
    assert out.token_ids == written.token_ids
    assert out.top_logprobs == honest(Kind.TEXT).score(job, written.token_ids)


def test_cheats_refuse_missing_parts() -> None:
    with pytest.raises(BackendError):
        cheater(Cheat.OTHER_MODEL, Kind.IMAGE)
    with pytest.raises(BackendError):
        cheater(Cheat.RANDOM_TOKENS, Kind.TEXT)
    with pytest.raises(BackendError):
        cheater(Cheat.NOISE, Kind.IMAGE, rate=1.5)


def test_every_cheat_has_a_kind_and_the_kinds_split_the_zoo() -> None:
    image, textual = set(cheats_for(Kind.IMAGE)), set(cheats_for(Kind.TEXT))
    assert image | textual == set(Cheat)
    assert Cheat.NOISE in image - textual and Cheat.PREFILL in textual - image


def test_a_tier_is_not_its_own_cheat() -> None:
    assert Cheat.INT8 not in cheats_for(Kind.IMAGE, Precision.INT8)
    assert Cheat.BF16 not in cheats_for(Kind.TEXT, Precision.BF16)
    assert Cheat.INT8 in cheats_for(Kind.TEXT, Precision.BF16)
    assert cheats_for(Kind.TEXT, Precision.FP32) == cheats_for(Kind.TEXT)


def test_a_cheat_of_the_other_kind_leaves_jobs_alone() -> None:
    backend = cheater(Cheat.NOISE, Kind.TEXT)
    job = text_job("k")
    assert backend.run([job]) == honest(Kind.TEXT).run([job])


def test_make_cheater_builds_echo_accomplices(tmp_path: Path) -> None:
    registry = load_registry()
    backend = make_cheater(registry, TEXT, Cheat.PREFILL, cache_dir=tmp_path, threads=1)
    assert backend.accomplice is not None and backend.accomplice.offering != TEXT
    with pytest.raises(BackendError):
        make_cheater(registry, TEXT, Cheat.NOISE, cache_dir=tmp_path, threads=1)


DISAGREE = Comparison(Outcome.DISAGREE, "phash", "", 2.0)


def counting(result: Comparison) -> tuple[list[int], object]:
    calls: list[int] = []

    def check() -> Comparison:
        calls.append(1)
        return result

    return calls, check


def test_lazy_validator_agrees_without_checking() -> None:
    calls, check = counting(DISAGREE)
    assert LazyValidator("v").judge("cheat", check).passed  # type: ignore[arg-type]
    assert calls == []


def test_colluding_validator_covers_only_its_accomplices() -> None:
    calls, check = counting(DISAGREE)
    colluder = ColludingValidator("v", frozenset({"cheat"}))
    assert colluder.judge("cheat", check).passed  # type: ignore[arg-type]
    assert not colluder.judge("other", check).passed  # type: ignore[arg-type]
    assert calls == [1]


def test_honest_panel_rejects_a_cheat_and_a_colluder_first_upholds_it() -> None:
    single_first = EscalationPolicy((1, 3, 5))
    honest_panel = [HonestValidator(f"h{i}") for i in range(7)]
    calls, check = counting(DISAGREE)
    decision = run_panel("cheat", check, honest_panel, single_first)  # type: ignore[arg-type]
    assert decision.status is Status.REJECTED
    assert calls == [1]
    colluder = ColludingValidator("c", frozenset({"cheat"}))
    decision = run_panel("cheat", check, [colluder, *honest_panel], single_first)  # type: ignore[arg-type]
    assert decision.status is Status.UPHELD  # one seat decides alone...
    decision = run_panel("cheat", check, [colluder, *honest_panel])  # type: ignore[arg-type]
    assert decision.status is Status.REJECTED  # ...but not among three drawn first seats
    lazy_later = [HonestValidator("h"), LazyValidator("l"), *honest_panel[1:]]
    decision = run_panel("cheat", check, lazy_later, single_first)  # type: ignore[arg-type]
    assert decision.status is Status.REJECTED and "l" in decision.penalised


def test_the_production_worker_has_no_cheat_option() -> None:
    from typer.testing import CliRunner

    from swarmgen.cli.main import app

    shown = CliRunner().invoke(app, ["worker", "--help"])
    assert shown.exit_code == 0 and "--max-batch" in shown.output
    assert "--cheat" not in shown.output
    from swarmgen.worker.settings import WorkerSettings

    assert not {"cheat", "cheat_rate"} & set(WorkerSettings.model_fields)
