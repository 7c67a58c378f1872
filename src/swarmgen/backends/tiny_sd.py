"""``tiny-sd``: a miniature Stable Diffusion pipeline with seeded random weights.

It has the real architecture (CLIP text encoder, conditional UNet, KL autoencoder with
an 8x downscale, DDIM scheduler) at a size that runs in milliseconds per step on a CPU.
Its pictures are noise, but they are reproducible noise: it exercises the diffusers code
path, batching, precision and verification without any download.

The weights come from ``torch.manual_seed(seed)`` before each component is built, so one
torch version builds the same weights everywhere; :func:`build_tiny_sd` saves them once.
Building uses torch's global RNG: build from one thread at a time (processes may race;
the folder appears atomically).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MODEL_INDEX = "model_index.json"
TEXT_DIM = 32
MAX_PROMPT_TOKENS = 77


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for raw bytes (GPT-2's table)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += list(range(ord("®"), ord("ÿ") + 1))
    extra = 0
    mapping: dict[int, str] = {}
    for byte in range(256):
        if byte in printable:
            mapping[byte] = chr(byte)
        else:
            mapping[byte] = chr(256 + extra)
            extra += 1
    return [mapping[b] for b in range(256)]


def tiny_vocab() -> dict[str, int]:
    """A character-level CLIP vocabulary: every byte, alone or ending a word, plus specials."""
    symbols = _byte_symbols()
    tokens = [*symbols, *(s + "</w>" for s in symbols), "<|startoftext|>", "<|endoftext|>"]
    return {token: i for i, token in enumerate(tokens)}


def _write_tokenizer(folder: Path) -> None:
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True)
    vocab = tiny_vocab()
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), "utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", "utf-8")
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=MAX_PROMPT_TOKENS)
    tokenizer.save_pretrained(str(folder))


def _components(seed: int, vocab_size: int) -> dict[str, Any]:
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(  # type: ignore[no-untyped-call]
        sample_size=8,
        block_out_channels=(32, 64),
        layers_per_block=1,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_DIM,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(  # type: ignore[no-untyped-call]
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 16, 16, 16),
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
    )
    torch.manual_seed(seed + 2)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=TEXT_DIM,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=MAX_PROMPT_TOKENS,
            bos_token_id=vocab_size - 2,
            eos_token_id=vocab_size - 1,
            pad_token_id=vocab_size - 1,
        )
    )
    scheduler = DDIMScheduler(  # type: ignore[no-untyped-call]
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "scheduler": scheduler}


def build_tiny_sd(folder: Path, seed: int = 0) -> Path:
    """Build the tiny pipeline into ``folder`` unless it is already there; return ``folder``.

    The pipeline is written to a temporary sibling and renamed into place, so a
    concurrent reader never sees half a model.
    """
    if (folder / MODEL_INDEX).is_file():
        return folder
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        _write_tokenizer(staging / "tokenizer-src")
        tokenizer = CLIPTokenizer.from_pretrained(str(staging / "tokenizer-src"))
        import torch

        with torch.random.fork_rng(devices=[]):  # leave the caller's RNG state alone
            parts = _components(seed, len(tokenizer))
        pipe: Any = StableDiffusionPipeline(  # type: ignore[no-untyped-call]
            **parts,
            tokenizer=tokenizer,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        pipe.save_pretrained(str(staging / "pipeline"), safe_serialization=True)
        try:
            (staging / "pipeline").rename(folder)
        except OSError:
            if not (folder / MODEL_INDEX).is_file():
                raise
            logger.debug("tiny-sd was built concurrently at %s", folder)
        else:
            logger.info("built tiny-sd (seed %d) at %s", seed, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def source(cache_dir: Path | None) -> str:
    """The ``builtin:tiny-sd`` source hook: the pipeline built under ``cache_dir``."""
    assert cache_dir is not None  # registered with needs_cache
    return str(build_tiny_sd(cache_dir / "tiny-sd"))
