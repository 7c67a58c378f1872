"""Cheating workers: a backend wrapper that misbehaves on a share of its jobs.

Each :class:`Cheat` saves the worker compute (or fakes work it never did) in one way a
real cheater could. :class:`CheatingBackend` wraps an honest backend and applies its
cheat to the jobs a keyed draw picks at ``rate``; the other jobs run honestly, so a
partial cheater looks like a worker with a bad day. Cheats that need a second model
(another model, a lower precision, the cheap writer of a pre-fill) take it as the
``accomplice`` backend; :mod:`swarmgen.tools.cheats.build` assembles them from a registry.

This is for tests, benchmarks and calibration only: a worker that uses it is a cheater.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum
from typing import cast

import numpy as np

from swarmgen.backends.base import Backend, BackendError, TextScorer, seed_of
from swarmgen.backends.diffusers_image import encode_png
from swarmgen.core.jobs import SEED_MAX, ImageSpec, Job, TextSpec
from swarmgen.core.offerings import Kind, Precision
from swarmgen.core.outputs import ImageOutput, Output, TextOutput

logger = logging.getLogger(__name__)


class Cheat(StrEnum):
    """A way to return something cheaper than what the job asked for."""

    WRONG_SEED = "wrong-seed"
    """Image: ignore the coordinator's seed (e.g. reuse a cached latent of another seed)."""
    FEWER_STEPS = "fewer-steps"
    """Image: run half the denoising steps."""
    FEWER_STEPS_25 = "fewer-steps-25"
    """Image: run a quarter fewer denoising steps (15 of 20)."""
    FEWER_STEPS_10 = "fewer-steps-10"
    """Image: run a tenth fewer denoising steps (18 of 20)."""
    OTHER_MODEL = "other-model"
    """Image or text: run another (cheaper) model and claim the declared one."""
    INT8 = "int8"
    """Image or text: run int8 weights while declaring the offering's precision."""
    BF16 = "bf16"
    """Text: run bfloat16 while declaring the offering's precision."""
    NOISE = "noise"
    """Image: return random pixels, no model at all."""
    COPY = "copy"
    """Image: return the output of an earlier job of the same size."""
    ALTERED_PROMPT = "altered-prompt"
    """Image: run a different prompt (one word swapped)."""
    PREFILL = "prefill"
    """Text: a cheap model writes the tokens, the real model only scores them."""
    RANDOM_TOKENS = "random-tokens"
    """Text: random token ids with made-up logprobs, no model at all."""
    TRUNCATED = "truncated"
    """Text: generate half the tokens, then claim the model stopped (end-of-sequence)."""

    @property
    def kinds(self) -> frozenset[Kind]:
        """The job kinds this cheat applies to."""
        both = {Cheat.OTHER_MODEL, Cheat.INT8}
        text = {Cheat.BF16, Cheat.PREFILL, Cheat.RANDOM_TOKENS, Cheat.TRUNCATED}
        if self in both:
            return frozenset(Kind)
        return frozenset({Kind.TEXT} if self in text else {Kind.IMAGE})

    @property
    def steps_cut(self) -> int:
        """Percent of the denoising steps a step-cutting cheat skips (0 for the others)."""
        return {Cheat.FEWER_STEPS: 50, Cheat.FEWER_STEPS_25: 25, Cheat.FEWER_STEPS_10: 10}.get(
            self, 0
        )

    @property
    def runs_precision(self) -> Precision | None:
        """The precision a precision-swapping cheat runs (``None`` for the other cheats)."""
        return {Cheat.INT8: Precision.INT8, Cheat.BF16: Precision.BF16}.get(self)

    @property
    def needs_accomplice(self) -> bool:
        """True when the cheat runs a second backend (another model or precision)."""
        return self in (Cheat.OTHER_MODEL, Cheat.INT8, Cheat.BF16, Cheat.PREFILL)


def cheats_for(kind: Kind, precision: Precision | None = None) -> tuple[Cheat, ...]:
    """Every cheat that applies to ``kind`` jobs, in declaration order; given the
    offering's ``precision``, not the cheat that runs that very precision (on an int8
    tier the int8 cheat is the tier itself, and an honest run)."""
    return tuple(
        cheat
        for cheat in Cheat
        if kind in cheat.kinds and (precision is None or cheat.runs_precision != precision)
    )


def _unit(seed: int, job_id: str, label: str) -> float:
    raw = hashlib.sha256(f"{seed}:{job_id}:{label}".encode()).digest()
    return int.from_bytes(raw[:8], "big") / 2**64


def _rng(seed: int, job_id: str, label: str) -> np.random.Generator:
    raw = hashlib.sha256(f"{seed}:{job_id}:{label}".encode()).digest()
    return np.random.default_rng(int.from_bytes(raw[:8], "big"))


_SWAPS = (
    ("red", "blue"),
    ("blue", "green"),
    ("green", "red"),
    ("yellow", "purple"),
    ("purple", "orange"),
    ("orange", "yellow"),
    ("white", "black"),
    ("black", "white"),
    ("gray", "red"),
    ("circle", "square"),
    ("square", "triangle"),
    ("triangle", "circle"),
    ("star", "diamond"),
    ("diamond", "star"),
)


def alter_prompt(prompt: str) -> str:
    """``prompt`` with its first colour or shape word swapped for another, else extended.

    A swap is the cheapest plausible alteration: the image looks like what was asked
    unless someone compares it with the right one.
    """
    swaps = dict(_SWAPS)
    pattern = re.compile(r"\b(" + "|".join(swaps) + r")\b")
    match = pattern.search(prompt)
    if match is None:
        return f"{prompt}, in another style"
    return prompt[: match.start()] + swaps[match[1]] + prompt[match.end() :]


class CheatingBackend:
    """A :class:`~swarmgen.backends.base.Backend` that applies ``cheat`` to a share of jobs.

    ``rate`` is the share of jobs cheated on, decided per job by a hash of ``seed`` and
    the job id (reproducible). ``accomplice`` is the second backend the cheat runs: the
    other model (its own offering; jobs are re-addressed to it), the lower-precision
    copy of the same offering, or the pre-fill writer. Text cheats that fabricate tokens
    need ``vocab_size`` and ``eos_id``; pre-fill needs ``inner`` to be a
    :class:`~swarmgen.backends.base.TextScorer`.
    """

    def __init__(
        self,
        inner: Backend,
        cheat: Cheat,
        rate: float = 1.0,
        seed: int = 0,
        *,
        accomplice: Backend | None = None,
        vocab_size: int | None = None,
        eos_id: int | None = None,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise BackendError(f"cheat rate {rate} is outside [0, 1]")
        if cheat.needs_accomplice and accomplice is None:
            raise BackendError(f"cheat {cheat} needs an accomplice backend")
        if cheat is Cheat.PREFILL and not callable(getattr(inner, "score", None)):
            raise BackendError("pre-fill needs the real model to score the cheap tokens")
        if cheat in (Cheat.RANDOM_TOKENS, Cheat.TRUNCATED) and (
            vocab_size is None or eos_id is None
        ):
            raise BackendError(f"cheat {cheat} needs vocab_size and eos_id")
        self.inner = inner
        self.cheat = cheat
        self.rate = rate
        self.seed = seed
        self.accomplice = accomplice
        self.vocab_size = vocab_size
        self.eos_id = eos_id
        self.offering = inner.offering
        self.max_batch = inner.max_batch
        self._copies: dict[tuple[int, int, int], ImageOutput] = {}

    def load(self) -> None:
        self.inner.load()
        if self.accomplice is not None:
            self.accomplice.load()

    def cheats_on(self, job: Job) -> bool:
        """Whether this job is one the worker cheats on (and the cheat fits its kind)."""
        return job.kind in self.cheat.kinds and _unit(self.seed, job.id, "cheat?") < self.rate

    def run(self, jobs: Sequence[Job]) -> list[Output]:
        """One output per job: honest ones from ``inner``, cheated ones faked."""
        results: list[Output | None] = [None] * len(jobs)
        honest: list[int] = []
        altered: list[tuple[int, Job]] = []
        faked: list[int] = []
        sources = set(self._copies)
        for index, job in enumerate(jobs):
            if not self.cheats_on(job):
                honest.append(index)
            elif self.cheat in (Cheat.WRONG_SEED, Cheat.ALTERED_PROMPT) or self.cheat.steps_cut:
                altered.append((index, self._altered_job(job)))
            elif self.cheat is Cheat.COPY and self._copy_key(job) not in sources:
                honest.append(index)  # nothing to copy yet: this one is run and kept
                sources.add(self._copy_key(job))
            else:
                faked.append(index)
        plain = [(i, jobs[i]) for i in honest] + altered
        if plain:
            outputs = self.inner.run([job for _, job in plain])
            for (index, _), output in zip(plain, outputs, strict=True):
                results[index] = output
        for index in honest:
            self._keep(jobs[index], results[index])
        for index in faked:
            results[index] = self._fake(jobs[index])
        return [out for out in results if out is not None]

    def _altered_job(self, job: Job) -> Job:
        spec = job.spec
        assert isinstance(spec, ImageSpec)
        if self.cheat is Cheat.WRONG_SEED:
            shift = 1 + int(_unit(self.seed, job.id, "seed") * 1_000_000)
            return replace(job, spec=replace(spec, seed=(seed_of(job) + shift) % (SEED_MAX + 1)))
        if self.cheat.steps_cut:
            # at least the named share fewer: 20 steps become 10, 15 or 18
            kept = spec.steps * (100 - self.cheat.steps_cut) // 100
            return replace(job, spec=replace(spec, steps=max(1, kept)))
        return replace(job, spec=replace(spec, prompt=alter_prompt(spec.prompt)))

    @staticmethod
    def _copy_key(job: Job) -> tuple[int, int, int]:
        spec = job.spec
        return (spec.width, spec.height, spec.n) if isinstance(spec, ImageSpec) else (0, 0, 0)

    def _keep(self, job: Job, output: Output | None) -> None:
        if self.cheat is Cheat.COPY and isinstance(output, ImageOutput):
            self._copies[self._copy_key(job)] = output

    def _fake(self, job: Job) -> Output:
        if self.cheat is Cheat.COPY:
            return self._copies[self._copy_key(job)]
        if self.cheat is Cheat.NOISE:
            return self._noise(job)
        if self.cheat is Cheat.RANDOM_TOKENS:
            return self._random_tokens(job)
        if self.cheat is Cheat.TRUNCATED:
            return self._truncated(job)
        assert self.accomplice is not None
        if self.cheat is Cheat.PREFILL:
            return self._prefill(job, self.accomplice)
        target = replace(job, offering=self.accomplice.offering)
        return self.accomplice.run([target])[0]

    def _noise(self, job: Job) -> ImageOutput:
        spec = job.spec
        assert isinstance(spec, ImageSpec)
        rng = _rng(self.seed, job.id, "noise")
        shape = (spec.height, spec.width, 3)
        return ImageOutput(
            tuple(
                encode_png(rng.integers(0, 256, size=shape, dtype=np.uint8)) for _ in range(spec.n)
            )
        )

    def _random_tokens(self, job: Job) -> TextOutput:
        spec = job.spec
        assert isinstance(spec, TextSpec) and self.vocab_size is not None
        rng = _rng(self.seed, job.id, "tokens")
        count = spec.max_tokens
        tokens = rng.integers(0, self.vocab_size, size=count).tolist()
        top = []
        for token in tokens:
            others = [int(t) for t in rng.integers(0, self.vocab_size, size=8) if t != token]
            pairs = [(int(token), -0.1)] + [
                (t, -2.0 - i) for i, t in enumerate(dict.fromkeys(others))
            ]
            top.append(tuple(pairs[:5]))
        margins = rng.uniform(0.0, 0.5, size=count) if spec.sampled else ()
        return TextOutput(
            text="",
            token_ids=tuple(int(t) for t in tokens),
            top_logprobs=tuple(top),
            prompt_tokens=0,
            finish_reason="length",
            choice_margins=tuple(float(m) for m in margins),
        )

    def _truncated(self, job: Job) -> TextOutput:
        spec = job.spec
        assert isinstance(spec, TextSpec) and self.eos_id is not None
        short = replace(job, spec=replace(spec, max_tokens=max(1, spec.max_tokens // 2)))
        output = self.inner.run([short])[0]
        assert isinstance(output, TextOutput)
        if output.finish_reason == "stop":
            return output  # the honest answer was that short anyway
        eos = ((self.eos_id, -0.05),)
        margin = (0.25,) if output.choice_margins else ()
        return replace(
            output,
            token_ids=(*output.token_ids, self.eos_id),
            top_logprobs=(*output.top_logprobs, eos),
            finish_reason="stop",
            choice_margins=(*output.choice_margins, *margin),
        )

    def _prefill(self, job: Job, writer: Backend) -> TextOutput:
        written = writer.run([replace(job, offering=writer.offering)])[0]
        assert isinstance(written, TextOutput)
        scored = cast(TextScorer, self.inner).score(job, written.token_ids)
        return replace(written, top_logprobs=scored)
