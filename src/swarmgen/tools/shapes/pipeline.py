"""The shapes-64 architecture: a standard ``StableDiffusionPipeline`` at toy scale.

A small norm-free ``AutoencoderTiny`` (4x downscale, 4 latent channels) turns 64x64 images into
16x16 latents; a small ``UNet2DConditionModel`` (``ShapesUNet``: the stock class with pixel
coordinates fed to its first convolution) denoises them, conditioned by a two-layer text
encoder over the locally built vocabulary: ``BertModel`` (bidirectional, so the
first-named colour can see the relation word after it) or ``CLIPTextModel`` (causal).
The scheduler is DDIM with zero terminal SNR and v-prediction, so sampling from pure
noise matches training (flat background colours come out right) and 20 steps suffice.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from swarmgen.tools.shapes.tokenizer import BOS, EOS, MAX_LENGTH, build_tokenizer, save_tokenizer

log = logging.getLogger(__name__)

LATENT_SIZE = 16
LATENT_CHANNELS = 4
TEXT_WIDTH = 128

VAE_CONFIG: dict[str, Any] = {
    # A norm-free autoencoder (TAESD's design): GroupNorm would normalise away the
    # absolute colours that are the whole content of these scenes.
    "in_channels": 3,
    "out_channels": 3,
    "encoder_block_out_channels": [32, 32, 32],
    "decoder_block_out_channels": [32, 32, 32],
    "num_encoder_blocks": [1, 1, 1],
    "num_decoder_blocks": [1, 1, 1],
    "latent_channels": LATENT_CHANNELS,
    "upsampling_scaling_factor": 2,
}

UNET_CONFIG: dict[str, Any] = {
    "sample_size": LATENT_SIZE,
    "in_channels": LATENT_CHANNELS,
    "out_channels": LATENT_CHANNELS,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    "block_out_channels": [48, 96],
    "layers_per_block": 1,
    "cross_attention_dim": TEXT_WIDTH,
    "attention_head_dim": 8,
    "norm_num_groups": 8,
    # The whole prompt, pooled by attention, also joins the timestep embedding, and that
    # embedding scales and shifts every ResNet block: with the coordinates the first
    # convolution sees (``ShapesUNet``), a block at any level can turn "red above blue"
    # into red where the rows are low, where cross-attention at 8x8 alone kept binding
    # colours to sides at chance (0003).
    "addition_embed_type": "text",
    "addition_embed_type_num_heads": 4,
    "resnet_time_scale_shift": "scale_shift",
}

SCHEDULER_CONFIG: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": True,
    "timestep_spacing": "trailing",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
}
SCHEDULER_NAME = "DDIMScheduler"


TEXT_ENCODERS = ("bert", "clip")


_TEXT_SIZES: dict[str, Any] = {
    "hidden_size": TEXT_WIDTH,
    "intermediate_size": 4 * TEXT_WIDTH,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": MAX_LENGTH,
}
"""Sizes both text encoders share, so that swapping one for the other changes only attention."""


def text_config(vocab_size: int, bos_id: int, eos_id: int) -> dict[str, Any]:
    """Config of the small CLIP text encoder."""
    return {
        "vocab_size": vocab_size,
        **_TEXT_SIZES,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "pad_token_id": eos_id,
    }


def bert_config(vocab_size: int, pad_id: int) -> dict[str, Any]:
    """Config of the small BERT text encoder: CLIP's sizes, bidirectional attention."""
    return {
        "vocab_size": vocab_size,
        **_TEXT_SIZES,
        "type_vocab_size": 1,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "pad_token_id": pad_id,
    }


def _text_encoder(kind: str, tokenizer: Any) -> Any:
    from transformers import BertConfig, BertModel, CLIPTextConfig, CLIPTextModel

    bos, eos = tokenizer.convert_tokens_to_ids([BOS, EOS])
    if kind == "bert":
        return BertModel(BertConfig(**bert_config(len(tokenizer), eos)))
    if kind == "clip":
        return CLIPTextModel(CLIPTextConfig(**text_config(len(tokenizer), bos, eos)))
    raise ValueError(f"text encoder must be one of {TEXT_ENCODERS}, not {kind!r}")


def build_pipeline(seed: int, text_encoder: str = "bert") -> Any:
    """A freshly initialised (untrained) shapes-64 ``StableDiffusionPipeline``."""
    import torch
    from diffusers import AutoencoderTiny, DDIMScheduler, StableDiffusionPipeline

    from swarmgen.shapes.unet import ShapesUNet

    torch.manual_seed(seed)
    tokenizer: Any = build_tokenizer()
    encoder = _text_encoder(text_encoder, tokenizer)
    vae = AutoencoderTiny(**VAE_CONFIG)  # type: ignore[no-untyped-call]
    unet = ShapesUNet(**UNET_CONFIG)
    scheduler = DDIMScheduler(**SCHEDULER_CONFIG)  # type: ignore[no-untyped-call]
    return StableDiffusionPipeline(  # type: ignore[no-untyped-call]
        vae=vae,
        text_encoder=encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def save_pipeline(pipe: Any, folder: Path) -> None:
    """Save as a standard diffusers folder with safetensors weights."""
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    save_tokenizer(pipe.tokenizer, folder / "tokenizer")
    log.info("saved shapes-64 pipeline to %s", folder)


def load_pipeline(folder: Path) -> Any:
    """Load a saved pipeline the way the image backend does (fp32, CPU, offline)."""
    import torch
    from diffusers import StableDiffusionPipeline

    import swarmgen.shapes.unet  # noqa: F401  (model_index.json names its ShapesUNet)

    pipe = StableDiffusionPipeline.from_pretrained(  # type: ignore[no-untyped-call]
        str(folder), torch_dtype=torch.float32, local_files_only=True
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def parameter_counts(pipe: Any) -> dict[str, int]:
    """Parameters per component, for the decision record and reports."""
    parts = {"unet": pipe.unet, "vae": pipe.vae, "text_encoder": pipe.text_encoder}
    return {name: sum(p.numel() for p in module.parameters()) for name, module in parts.items()}
