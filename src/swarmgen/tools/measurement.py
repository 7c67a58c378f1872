"""What one tier's process measures: memory, speed and the outputs quality compares.

:mod:`swarmgen.tools.quality` runs each tier in a process of its own
(``python -m swarmgen.tools.measurement``), so that its peak resident memory is its own;
the tier is loaded through the worker's backend factory exactly as a worker loads it, at
the same torch thread count. It measures:

- ``weight_bytes``: bytes of every tensor the model holds (weights and buffers; tied
  weights once; a quantized weight counts its integer data, scales and zero points as
  stored), ``kept_bytes`` the part still in a float dtype, and ``packed_bytes`` what the
  weights would take with sub-byte integers packed (torchao's CPU layout stores int4
  values one per byte);
- ``peak_rss``: the process's peak resident set size after loading and running;
- images: seconds per image over held-out shapes-64 prompts (image ``i`` seeded ``i``);
  text: tokens per second of greedy decoding over a fixed question set.

It writes what it measured, outputs included, as one JSON report.
"""

from __future__ import annotations

import base64
import json
import math
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

QUESTIONS = (
    "What is the capital of France?",
    "How many days are there in a week?",
    "What colour is the sky on a clear day?",
    "What is two plus three?",
    "Name the largest planet in the solar system.",
    "What do bees make?",
    "Which animal is known as the king of the jungle?",
    "What is the opposite of hot?",
)
"""The fixed question set of the text tiers (greedy answers of :data:`ANSWER_TOKENS`)."""
ANSWER_TOKENS = 16


def _tensor_bytes(tensor: Any, seen: set[int]) -> tuple[int, int, int]:
    """(stored, kept float, packed) bytes of ``tensor``, looking inside tensor subclasses
    (a quantized weight's float scales count as stored and packed, not as kept)."""
    flatten = getattr(type(tensor), "__tensor_flatten__", None)
    if flatten is not None and type(tensor).__name__ != "Parameter":
        names, context = tensor.__tensor_flatten__()
        total = [0, 0, 0]
        bits = 8
        target = context.get("target_dtype") if isinstance(context, dict) else None
        if target is not None and "int" in str(target):
            bits = int(str(target).rsplit("int", 1)[1] or 8)
        for name in names:
            inner = getattr(tensor, name)
            stored, _, packed = _tensor_bytes(inner, seen)  # scales belong to the quantized
            if name == "qdata":
                packed = math.ceil(inner.numel() * bits / 8)
            total = [total[0] + stored, total[1], total[2] + packed]
        return total[0], total[1], total[2]
    key = tensor.untyped_storage().data_ptr()
    if key in seen:
        return 0, 0, 0
    seen.add(key)
    size = tensor.numel() * tensor.element_size()
    return size, size if tensor.is_floating_point() else 0, size


def weight_bytes(modules: Sequence[Any]) -> tuple[int, int, int]:
    """(stored, float, packed) bytes of every parameter and buffer of ``modules``."""
    seen: set[int] = set()
    total = [0, 0, 0]
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            data = tensor.data if type(tensor).__name__ == "Parameter" else tensor
            counted = _tensor_bytes(data, seen)
            total = [a + b for a, b in zip(total, counted, strict=True)]
    return total[0], total[1], total[2]


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _backend(offering: str, cache: Path, threads: int) -> Any:
    from swarmgen.backends.factory import make_backend
    from swarmgen.core.offerings import Offering
    from swarmgen.registry import load_registry

    parsed = Offering.parse(offering)
    backend = make_backend(
        load_registry(economics=False).entry(parsed), parsed, cache_dir=cache, threads=threads
    )
    backend.load()
    return backend


def image_prompts(count: int) -> list[str]:
    from swarmgen.tools.shapes.evaluate import held_out_prompts

    return held_out_prompts(count)


def _measure_images(backend: Any, count: int) -> tuple[float, dict[str, Any]]:
    from swarmgen.core.jobs import ImageSpec, Job
    from swarmgen.core.outputs import ImageOutput

    images, seconds = [], 0.0
    for index, prompt in enumerate(image_prompts(count)):
        spec = ImageSpec(prompt=prompt, width=64, height=64, seed=index)
        started = time.perf_counter()
        (out,) = backend.run([Job(f"q{index}", backend.offering, spec)])
        seconds += time.perf_counter() - started
        assert isinstance(out, ImageOutput)
        images.append(base64.b64encode(out.images[0]).decode())
    return seconds / max(1, count), {"images": images}


def _question_job(backend: Any, index: int, temperature: float = 0.0) -> Any:
    from swarmgen.core.jobs import Job, Message, TextSpec

    spec = TextSpec(
        messages=(Message("user", QUESTIONS[index]),),
        max_tokens=ANSWER_TOKENS,
        seed=index,
        temperature=temperature,
    )
    return Job(f"q{index}-{temperature}", backend.offering, spec)


def _claim(out: Any) -> dict[str, Any]:
    """A text output as JSON, to be checked later as a claim or a validator's run."""
    return {
        "text": out.text,
        "token_ids": list(out.token_ids),
        "top_logprobs": [[list(pair) for pair in row] for row in out.top_logprobs],
        "prompt_tokens": out.prompt_tokens,
        "finish_reason": out.finish_reason,
        "choice_margins": list(out.choice_margins),
    }


def text_output(claim: dict[str, Any]) -> Any:
    """A claim :func:`_claim` wrote, as the text output it was (for the checks)."""
    from swarmgen.core.outputs import TextOutput

    return TextOutput(
        text=claim["text"],
        token_ids=tuple(claim["token_ids"]),
        top_logprobs=tuple(
            tuple((int(t), float(v)) for t, v in row) for row in claim["top_logprobs"]
        ),
        prompt_tokens=claim["prompt_tokens"],
        finish_reason=claim["finish_reason"],
        choice_margins=tuple(claim["choice_margins"]),
    )


def _measure_text(
    backend: Any, reference: dict[str, Any] | None, questions: int
) -> tuple[float, dict[str, Any]]:
    import torch

    answers, greedy, tokens, seconds = [], [], 0, 0.0
    forced: list[list[dict[str, Any]]] = []
    for index in range(questions):
        job = _question_job(backend, index)
        started = time.perf_counter()
        (out,) = backend.run([job])
        seconds += time.perf_counter() - started
        tokens += len(out.token_ids)
        answers.append(list(out.token_ids))
        greedy.append(_claim(out))
        claim = reference["answers"][index] if reference else list(out.token_ids)
        logprobs = torch.log_softmax(backend.teacher_forced(job, claim).double(), dim=-1)
        rows = []
        for position, row in enumerate(logprobs):
            # fp32's own top 5 at each position; a tier reports its logprobs at those ids
            top = (
                reference["forced"][index][position]["top"]
                if reference
                else torch.topk(row, 5).indices.tolist()
            )
            rows.append({"top": top, "lp": row[top].tolist(), "best": int(row.argmax())})
        forced.append(rows)
    claims = {
        "greedy": greedy,
        "sampled": [
            _claim(backend.run([_question_job(backend, i, 1.0)])[0]) for i in range(questions)
        ],
    }
    return tokens / seconds, {"answers": answers, "forced": forced, "claims": claims}


def measure(
    offering: str, cache: Path, threads: int, images: int, reference: Path | None
) -> dict[str, Any]:
    """Load ``offering``, run the workload and report what it measured (one tier's process)."""
    backend = _backend(offering, cache, threads)
    ref = json.loads(reference.read_text())["outputs"] if reference else None
    pipe = getattr(backend, "_pipe", None)
    if pipe is not None:
        modules = [pipe.unet, pipe.text_encoder, pipe.vae]
        speed, outputs = _measure_images(backend, images)
    else:
        modules = [backend._model]
        speed, outputs = _measure_text(backend, ref, min(images, len(QUESTIONS)))
    stored, floats, packed = weight_bytes(modules)
    return {
        "offering": offering,
        "weight_bytes": stored,
        "kept_bytes": floats,
        "packed_bytes": packed,
        "peak_rss": _peak_rss(),
        "speed": speed,
        "outputs": outputs,
    }


def main(argv: Sequence[str]) -> None:
    """One tier's process: ``OFFERING CACHE THREADS IMAGES REFERENCE OUT``."""
    offering, cache, threads, images, reference, out = argv
    report = measure(
        offering, Path(cache), int(threads), int(images), Path(reference) if reference else None
    )
    Path(out).write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
