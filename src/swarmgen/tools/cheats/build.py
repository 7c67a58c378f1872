"""Assemble a cheating backend for an offering from the registry.

The accomplice each cheat needs is built here:

- ``int8`` / ``bf16``: the same offering loaded at that precision (the factory's
  ``run_precision``), so it claims the declared precision and runs another;
- ``other-model`` for images: ``tiny-sd`` (for ``tiny-sd`` itself, a ``tiny-sd`` built from
  another seed), a model of the same pipeline family that costs far less per step;
- ``other-model`` and the ``prefill`` writer for text: the same architecture with every
  weight perturbed by Gaussian noise (:func:`perturbed_model`). It stands in for a
  fine-tune or a sibling model, which cannot be downloaded here; a perturbation is the
  hardest case short of the model itself, since its text stays fluent and close;
- echo models get an echo accomplice under another name (its outputs differ).

Nothing loads here: the backends load on first use, as the worker's do.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

from swarmgen.backends.base import Backend, BackendError
from swarmgen.backends.echo import EOS, VOCAB, EchoBackend
from swarmgen.backends.factory import make_backend
from swarmgen.core.offerings import Kind, Offering, Precision
from swarmgen.registry import ModelEntry, Registry
from swarmgen.tools.cheats.backend import Cheat, CheatingBackend

logger = logging.getLogger(__name__)

PERTURB_SCALE = 0.05
"""Noise added to each text weight tensor, relative to that tensor's standard deviation."""
PERTURB_SEED = 1
OTHER_TINY_SD_SEED = 1


def perturbed_model(source: Path, target: Path, scale: float, seed: int) -> Path:
    """A copy of the causal LM at ``source`` with Gaussian noise on every weight.

    Each tensor ``w`` becomes ``w + scale * std(w) * N(0, 1)``; built once into
    ``target`` (written to a temporary sibling, then renamed).
    """
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model = AutoModelForCausalLM.from_pretrained(str(source), dtype=torch.float32)
        generator = torch.Generator("cpu").manual_seed(seed)
        with torch.no_grad():
            for param in model.parameters():
                if param.numel() > 1:
                    noise = torch.randn(param.shape, generator=generator)
                    param.add_(noise * scale * param.std())
        model.save_pretrained(str(staging / "model"), safe_serialization=True)
        AutoTokenizer.from_pretrained(str(source)).save_pretrained(str(staging / "model"))
        try:
            (staging / "model").rename(target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("built %s (noise %.3g, seed %d)", target, scale, seed)
    return target


def _other_image(entry: ModelEntry, cache_dir: Path, threads: int) -> Backend:
    from swarmgen.backends.diffusers_image import DiffusersImageBackend

    fp32 = Precision.FP32
    if entry.name != "tiny-sd":
        return DiffusersImageBackend(
            Offering("tiny-sd", fp32), "builtin:tiny-sd", threads, cache_dir=cache_dir
        )
    from swarmgen.backends.tiny_sd import build_tiny_sd

    folder = build_tiny_sd(cache_dir / f"tiny-sd-seed{OTHER_TINY_SD_SEED}", OTHER_TINY_SD_SEED)
    return DiffusersImageBackend(Offering("tiny-sd-other", fp32), str(folder), threads)


def _model_folder(entry: ModelEntry, cache_dir: Path) -> Path:
    from swarmgen.backends.sources import resolve_source

    return Path(resolve_source(entry.source, cache_dir))


def _other_text(entry: ModelEntry, offering: Offering, cache_dir: Path, threads: int) -> Backend:
    from swarmgen.backends.transformers_text import TransformersTextBackend

    name = f"{entry.name}-perturbed"
    folder = perturbed_model(
        _model_folder(entry, cache_dir), cache_dir / name, PERTURB_SCALE, PERTURB_SEED
    )
    top_k = int(entry.options.get("top_k", 5))
    return TransformersTextBackend(
        Offering(name, offering.precision), str(folder), cache_dir, threads, top_k=top_k
    )


def _vocabulary(entry: ModelEntry, cache_dir: Path) -> tuple[int, int]:
    """``(vocab_size, eos_id)`` of a text model, read from its config without loading it."""
    if entry.backend == "echo":
        return len(VOCAB), EOS
    config = json.loads((_model_folder(entry, cache_dir) / "config.json").read_text("utf-8"))
    eos = config.get("eos_token_id")
    eos_id = eos[0] if isinstance(eos, list) else eos
    if eos_id is None:
        raise BackendError(f"{entry.name} has no end-of-sequence token")
    return int(config["vocab_size"]), int(eos_id)


def accomplice_for(
    entry: ModelEntry, offering: Offering, cheat: Cheat, cache_dir: Path, threads: int
) -> Backend | None:
    """The second backend ``cheat`` runs for ``offering``, or ``None`` if it needs none."""
    if not cheat.needs_accomplice:
        return None
    precision = cheat.runs_precision
    if precision is not None:
        return make_backend(
            entry, offering, cache_dir=cache_dir, threads=threads, run_precision=precision
        )
    if entry.backend == "echo":
        return EchoBackend(Offering(f"{entry.name}-other", offering.precision), entry.kind)
    if entry.kind is Kind.IMAGE:
        return _other_image(entry, cache_dir, threads)
    return _other_text(entry, offering, cache_dir, threads)


def make_cheater(
    registry: Registry,
    offering: Offering,
    cheat: Cheat,
    *,
    rate: float = 1.0,
    seed: int = 0,
    cache_dir: Path,
    threads: int,
    inner: Backend | None = None,
    accomplice: Backend | None = None,
) -> CheatingBackend:
    """A backend for ``offering`` that applies ``cheat`` to ``rate`` of its jobs.

    ``inner`` is the honest backend to wrap and ``accomplice`` the second one the cheat
    runs; each is built from the registry when ``None`` (pass them to share loaded
    models between cheaters).
    """
    entry = registry.entry(offering)
    if entry.kind not in cheat.kinds:
        raise BackendError(f"cheat {cheat} does not apply to {entry.kind} models")
    if inner is None:
        inner = make_backend(entry, offering, cache_dir=cache_dir, threads=threads)
    vocab_size = eos_id = None
    if cheat in (Cheat.RANDOM_TOKENS, Cheat.TRUNCATED):
        vocab_size, eos_id = _vocabulary(entry, cache_dir)
    return CheatingBackend(
        inner,
        cheat,
        rate,
        seed,
        accomplice=accomplice or accomplice_for(entry, offering, cheat, cache_dir, threads),
        vocab_size=vocab_size,
        eos_id=eos_id,
    )
