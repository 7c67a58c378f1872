"""The transformers backend: a causal language model decoded by a reproducible loop.

Decoding is written out (not ``generate``) so two runs of a job make the same choices:

- each step's distribution is the model's raw ``log_softmax`` over the last position's
  logits; its top-k pairs are what the output reports and what :meth:`score` recomputes;
- ``temperature == 0`` picks the most likely token;
- otherwise the logits are divided by the temperature, the smallest set of most likely
  tokens whose probability reaches ``top_p`` is kept (ties broken by token id), and the
  token is picked by inverse CDF with one uniform draw per step from a CPU
  ``torch.Generator`` seeded with ``text_sampling_seed(job seed, sampling id)``, and the
  output reports how close each draw came to an edge (``choice_margins``);
- decoding stops after an end-of-sequence token (which is kept in ``token_ids`` so it
  can be checked) or after ``max_tokens`` tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swarmgen.backends.base import BackendError, TopLogprobs, check_jobs, seed_of
from swarmgen.backends.precision import (
    apply_pins,
    default_pins,
    inference,
    load_dtype,
    pin_threads,
)
from swarmgen.core.jobs import Job, TextSpec, text_sampling_seed
from swarmgen.core.offerings import Kind, Offering, Precision
from swarmgen.core.outputs import Output, TextOutput
from swarmgen.core.tiers import TierPins

if TYPE_CHECKING:
    import torch

    from swarmgen.backends.plugins import BackendRequest

logger = logging.getLogger(__name__)


def _spec(job: Job) -> TextSpec:
    if not isinstance(job.spec, TextSpec):
        raise BackendError(f"job {job.id} is not a text job")
    return job.spec


class Sampler:
    """The seeded token picker of one job; each call consumes one draw."""

    def __init__(self, job: Job) -> None:
        import torch

        spec = _spec(job)
        self.temperature = spec.temperature
        self.top_p = spec.top_p
        self.generator: torch.Generator | None = None
        if self.temperature > 0:
            seed = text_sampling_seed(seed_of(job), job.sampling_key)
            self.generator = torch.Generator("cpu").manual_seed(seed)

    @property
    def sampled(self) -> bool:
        return self.generator is not None

    def choose(self, logits: torch.Tensor) -> tuple[int, float]:
        """The token picked from one position's ``logits`` (a 1-D tensor), and its margin.

        Greedy: the most likely token, margin 0 (unused). Sampled: the kept tokens are
        sorted most likely first and the token whose running probability first exceeds
        the draw (scaled to the kept mass) is picked; the margin is the probability mass
        between the draw and the nearer edge of that token's interval.
        """
        import torch

        if self.generator is None:
            return int(torch.argmax(logits).item()), 0.0
        uniform = float(torch.rand((), generator=self.generator, dtype=torch.float64).item())
        probs = torch.softmax(logits.double() / self.temperature, dim=-1)
        sorted_probs, order = torch.sort(probs, descending=True, stable=True)
        cumulative = torch.cumsum(sorted_probs, dim=-1)
        keep = max(1, int((cumulative - sorted_probs < self.top_p).sum().item()))
        target = uniform * float(cumulative[keep - 1].item())
        point = torch.tensor([target], dtype=torch.float64)
        rank = min(int(torch.searchsorted(cumulative[:keep], point, right=True).item()), keep - 1)
        high = float(cumulative[rank].item())
        low = float(cumulative[rank - 1].item()) if rank else 0.0
        return int(order[rank].item()), max(0.0, min(target - low, high - target))


class TransformersTextBackend:
    """A :class:`~swarmgen.backends.base.Backend` (and text scorer) for a causal LM."""

    def __init__(
        self,
        offering: Offering,
        source: str,
        cache_dir: Path | None,
        threads: int,
        top_k: int = 5,
        *,
        precision: Precision | None = None,
        pins: TierPins | None = None,
        max_batch: int = 1,
    ) -> None:
        """``source`` is a folder, a hub id or ``builtin:smollm2-135m``.

        ``precision`` is what actually runs; it defaults to the offering's own, and
        ``pins`` say how it is computed (default: :func:`default_pins` of it).
        """
        self.offering = offering
        self.source = source
        self.cache_dir = cache_dir
        self.threads = threads
        self.top_k = top_k
        self.precision = precision or offering.precision
        self.pins = pins or default_pins(self.precision)
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
        dtype = load_dtype(self.pins)
        path = resolve_source(self.source, self.cache_dir)
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        tokenizer = AutoTokenizer.from_pretrained(path)
        model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        model.eval()
        model = apply_pins(self.pins, "model", model)
        eos: set[int] = set()
        for value in (model.config.eos_token_id, tokenizer.eos_token_id):
            eos.update(value if isinstance(value, list) else [] if value is None else [value])
        self._tokenizer, self._model, self._eos = tokenizer, model, frozenset(eos)
        logger.info(
            "loaded %s from %s at %s (%s)",
            self.offering,
            path,
            self.precision,
            self.pins.describe(),
        )

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
        margins: list[float] = []
        top: list[tuple[tuple[int, float], ...]] = []
        finish = "length"
        with inference():
            out = self._model(input_ids=torch.tensor([prompt]), use_cache=True)
            while len(tokens) < spec.max_tokens:
                logits = out.logits[0, -1]
                top.append(self._top(logits))
                token, margin = sampler.choose(logits.float())
                tokens.append(token)
                margins.append(margin)
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
            choice_margins=tuple(margins) if sampler.sampled else (),
        )

    def teacher_forced(self, job: Job, token_ids: Sequence[int]) -> torch.Tensor:
        """Logits predicting each claimed token, from one pass over prompt + claim."""
        import torch

        prompt = self.prompt_ids(job)
        pin_threads(self.threads)
        if not token_ids:
            return torch.empty((0, 0))
        ids = torch.tensor([[*prompt, *token_ids[:-1]]])
        with inference():
            logits = self._model(input_ids=ids).logits[0]
        claimed: torch.Tensor = logits[len(prompt) - 1 :].float()
        return claimed

    def score(self, job: Job, token_ids: Sequence[int]) -> TopLogprobs:
        """Top-k ``(token_id, logprob)`` at each given position, from one teacher-forced pass."""
        logits = self.teacher_forced(job, token_ids)
        return tuple(self._top(row) for row in logits)


def build(request: BackendRequest) -> TransformersTextBackend:
    """The transformers backend for a registry entry (``backend = "transformers"``)."""
    return TransformersTextBackend(
        request.offering,
        request.entry.source,
        request.cache_dir,
        request.threads,
        top_k=int(request.option("top_k", 5)),
        precision=request.run_precision,
        pins=request.tier,
    )
