"""The transformers backend: a causal language model decoded by a replayable loop.

Decoding is written out (not ``generate``) so a validator can replay every choice:

- each step's distribution is the model's raw ``log_softmax`` over the last position's
  logits; its top-k pairs are what the output reports and what :meth:`score` recomputes;
- ``temperature == 0`` picks the most likely token;
- otherwise the logits are divided by the temperature, the smallest set of most likely
  tokens whose probability reaches ``top_p`` is kept (ties broken by token id), and the
  token is picked by inverse CDF with one uniform draw per step from a CPU
  ``torch.Generator`` seeded with ``text_sampling_seed(job seed, job id)``;
- decoding stops after an end-of-sequence token (which is kept in ``token_ids`` so it
  can be checked) or after ``max_tokens`` tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swarmgen.backends.base import BackendError, TopLogprobs, check_jobs, seed_of
from swarmgen.backends.precision import load_dtype, pin_threads, quantize_int8
from swarmgen.core.jobs import Job, TextSpec, text_sampling_seed
from swarmgen.core.offerings import Kind, Offering, Precision
from swarmgen.core.outputs import Output, TextOutput

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


def _spec(job: Job) -> TextSpec:
    if not isinstance(job.spec, TextSpec):
        raise BackendError(f"job {job.id} is not a text job")
    return job.spec


REPLAY_TOLERANCE = 1e-4
"""Probability mass by which a replayed draw may miss the claimed token's interval.

The worker decodes with a KV cache and the validator scores in one teacher-forced pass;
the two compute the same distribution up to float rounding (about 1e-6 here), so a draw
that lands within this distance of a token boundary may honestly fall on either side.
A token written by anything but the job's sampler lands this close only by chance
(about 2e-4 per position).
"""


class Sampler:
    """The seeded token picker of one job; each call consumes one draw."""

    def __init__(self, job: Job) -> None:
        import torch

        spec = _spec(job)
        self.temperature = spec.temperature
        self.top_p = spec.top_p
        self.generator: torch.Generator | None = None
        if self.temperature > 0:
            seed = text_sampling_seed(seed_of(job), job.id)
            self.generator = torch.Generator("cpu").manual_seed(seed)

    def _draw(self, logits: torch.Tensor) -> tuple[float, torch.Tensor, torch.Tensor, int]:
        """One draw at one position: ``(target, order, cumulative, keep)``.

        ``order`` lists token ids most likely first, ``cumulative`` their running
        probability, ``keep`` how many the top-p cut keeps; ``target`` is the uniform
        draw scaled to the kept mass, so the picked token is the first whose running
        probability exceeds it.
        """
        import torch

        uniform = float(torch.rand((), generator=self.generator, dtype=torch.float64).item())
        probs = torch.softmax(logits.double() / self.temperature, dim=-1)
        sorted_probs, order = torch.sort(probs, descending=True, stable=True)
        cumulative = torch.cumsum(sorted_probs, dim=-1)
        keep = max(1, int((cumulative - sorted_probs < self.top_p).sum().item()))
        return uniform * float(cumulative[keep - 1].item()), order, cumulative, keep

    @staticmethod
    def _pick(target: float, order: torch.Tensor, cumulative: torch.Tensor, keep: int) -> int:
        import torch

        point = torch.tensor([target], dtype=torch.float64)
        index = int(torch.searchsorted(cumulative[:keep], point, right=True).item())
        return int(order[min(index, keep - 1)].item())

    def choose(self, logits: torch.Tensor) -> int:
        """The token picked from one position's ``logits`` (a 1-D tensor)."""
        import torch

        if self.generator is None:
            return int(torch.argmax(logits).item())
        return self._pick(*self._draw(logits))

    def replay(self, logits: torch.Tensor, claimed: int) -> int:
        """What this position's draw picks, giving ``claimed`` the benefit of rounding.

        Returns ``claimed`` when the draw falls inside its probability interval or within
        :data:`REPLAY_TOLERANCE` of it, otherwise the token the draw picks.
        """
        if self.generator is None:
            return self.choose(logits)
        target, order, cumulative, keep = self._draw(logits)
        found = (order == claimed).nonzero()
        if len(found):
            rank = int(found[0, 0].item())
            high = float(cumulative[rank].item())
            low = float(cumulative[rank - 1].item()) if rank else 0.0
            if low - REPLAY_TOLERANCE <= target <= high + REPLAY_TOLERANCE:
                return claimed
        return self._pick(target, order, cumulative, keep)


class TransformersTextBackend:
    """A :class:`~swarmgen.backends.base.Backend` and validator scorer for a causal LM."""

    def __init__(
        self,
        offering: Offering,
        source: str,
        cache_dir: Path | None,
        threads: int,
        top_k: int = 5,
        *,
        precision: Precision | None = None,
        max_batch: int = 1,
    ) -> None:
        """``source`` is a folder, a hub id or ``builtin:smollm2-135m``.

        ``precision`` is what actually runs; it defaults to the offering's own.
        """
        self.offering = offering
        self.source = source
        self.cache_dir = cache_dir
        self.threads = threads
        self.top_k = top_k
        self.precision = precision or offering.precision
        self.max_batch = max_batch
        self._model: Any = None
        self._tokenizer: Any = None
        self._eos: frozenset[int] = frozenset()

    def load(self) -> None:
        """Resolve the source and load tokenizer and model at :attr:`precision`; idempotent."""
        if self._model is not None:
            return
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from swarmgen.backends.sources import resolve_source

        pin_threads(self.threads)
        dtype = load_dtype(self.precision)
        path = resolve_source(self.source, self.cache_dir)
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        tokenizer = AutoTokenizer.from_pretrained(path)
        model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        model.eval()
        if self.precision is Precision.INT8:
            model = quantize_int8(model)
        eos: set[int] = set()
        for value in (model.config.eos_token_id, tokenizer.eos_token_id):
            eos.update(value if isinstance(value, list) else [] if value is None else [value])
        self._tokenizer, self._model, self._eos = tokenizer, model, frozenset(eos)
        logger.info("loaded %s from %s at %s", self.offering, path, self.precision)

    def prompt_ids(self, job: Job) -> list[int]:
        """The prompt's token ids through the chat template; a bare prompt is one user message.

        A model without a chat template gets the text as it is, for plain continuation.
        """
        self.load()
        spec = _spec(job)
        messages = [{"role": m.role, "content": m.content} for m in spec.messages]
        if not messages and spec.prompt:
            messages = [{"role": "user", "content": spec.prompt}]
        if messages and self._tokenizer.chat_template:
            text = self._tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
            ids = self._tokenizer(text, add_special_tokens=False).input_ids
        else:
            ids = self._tokenizer("\n".join(m["content"] for m in messages)).input_ids
        if not ids:
            raise BackendError(f"job {job.id} has an empty prompt")
        return [int(i) for i in ids]

    def run(self, jobs: Sequence[Job]) -> list[Output]:
        """Generate each job's text, one job after another."""
        check_jobs(self.offering, Kind.TEXT, jobs, self.max_batch)
        self.load()
        pin_threads(self.threads)
        return [self.generate(job) for job in jobs]

    def _top(self, logits: torch.Tensor) -> tuple[tuple[int, float], ...]:
        import torch

        logprobs = torch.log_softmax(logits.float(), dim=-1)
        values, indices = torch.topk(logprobs, self.top_k)
        return tuple(
            (int(i), float(v)) for i, v in zip(indices.tolist(), values.tolist(), strict=True)
        )

    def generate(self, job: Job) -> TextOutput:
        """Decode ``job`` with the KV cache, recording top-k logprobs at each step."""
        import torch

        spec = _spec(job)
        prompt = self.prompt_ids(job)
        sampler = Sampler(job)
        tokens: list[int] = []
        top: list[tuple[tuple[int, float], ...]] = []
        finish = "length"
        with torch.inference_mode():
            out = self._model(input_ids=torch.tensor([prompt]), use_cache=True)
            while len(tokens) < spec.max_tokens:
                logits = out.logits[0, -1]
                top.append(self._top(logits))
                token = sampler.choose(logits.float())
                tokens.append(token)
                if token in self._eos:
                    finish = "stop"
                    break
                if len(tokens) == spec.max_tokens:
                    break
                out = self._model(
                    input_ids=torch.tensor([[token]]),
                    past_key_values=out.past_key_values,
                    use_cache=True,
                )
        text = self._tokenizer.decode(
            [t for t in tokens if t not in self._eos], skip_special_tokens=True
        )
        return TextOutput(
            text=text,
            token_ids=tuple(tokens),
            top_logprobs=tuple(top),
            prompt_tokens=len(prompt),
            finish_reason=finish,
        )

    def _teacher_forced(self, job: Job, token_ids: Sequence[int]) -> torch.Tensor:
        """Logits predicting each claimed token, from one pass over prompt + claim."""
        import torch

        prompt = self.prompt_ids(job)
        pin_threads(self.threads)
        if not token_ids:
            return torch.empty((0, 0))
        ids = torch.tensor([[*prompt, *token_ids[:-1]]])
        with torch.inference_mode():
            logits = self._model(input_ids=ids).logits[0]
        claimed: torch.Tensor = logits[len(prompt) - 1 :].float()
        return claimed

    def score(self, job: Job, token_ids: Sequence[int]) -> TopLogprobs:
        """Top-k ``(token_id, logprob)`` at each claimed position (what a validator checks)."""
        logits = self._teacher_forced(job, token_ids)
        return tuple(self._top(row) for row in logits)

    def replay_choices(self, job: Job, token_ids: Sequence[int]) -> list[int]:
        """The token this job's sampler picks at each position, given the claimed prefix.

        A draw within rounding of the claimed token's boundary counts as picking it
        (:meth:`Sampler.replay`). A result whose tokens differ from these was not drawn
        by the job's seeded sampler (e.g. written by another model and only scored by
        this one).
        """
        logits = self._teacher_forced(job, token_ids)
        sampler = Sampler(job)
        return [sampler.replay(row, token) for row, token in zip(logits, token_ids, strict=True)]
