"""Train shapes-64 from scratch on CPU, reproducibly from one seed.

Two phases: the autoencoder learns to reconstruct rendered scenes; then, with the
autoencoder frozen and every training image encoded once, the UNet and the text
encoder learn v-prediction jointly, with caption dropout so the empty prompt gives
the unconditional embedding classifier-free guidance needs, while a training-only head
asks the text encoder where each named shape lies (``objectives.Placement``). Data, initial weights,
batch order and noise all come from ``seed``; results are bit-identical at a fixed
process and thread count.

A run is data-parallel over ``processes`` replicas: every replica starts from the same
weights, draws the same global batch and computes the gradient of its own equal share;
the gradients are averaged (gloo, over loopback) before each identical optimiser step.
The small convolutions here scale poorly across threads: on a 2-core machine two
1-thread replicas train about 1.6 times faster than one 2-thread process.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swarmgen.tools.shapes.objectives import Placement, shape_cells
from swarmgen.tools.shapes.pipeline import TEXT_ENCODERS

if TYPE_CHECKING:
    import numpy as np

    from swarmgen.tools.shapes.scenes import Scene

log = logging.getLogger(__name__)

StepCallback = Callable[[str, int, int, float], None]
"""``(phase, step, total_steps, loss)`` after every optimiser step."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; the run is a function of this alone."""

    seed: int = 0
    processes: int = 2
    """Data-parallel replicas; each computes an equal share of every batch."""
    threads: int = 1
    """torch threads per replica."""
    images: int = 8000
    text_encoder: str = "bert"
    vae_steps: int = 1200
    vae_batch: int = 8
    vae_lr: float = 3e-3
    unet_steps: int = 4400
    unet_batch: int = 32
    unet_lr: float = 1e-3
    warmup: int = 100
    caption_dropout: float = 0.1
    shape_weight: float = 3.0
    """Extra weight of the diffusion loss on latent cells a shape covers: shapes fill a
    tenth of a scene, and a colour on the wrong side costs little against a background
    that is right everywhere else."""
    place_weight: float = 0.15
    """Weight of the auxiliary loss that asks each shape's colour word where its shape
    lies (``objectives.Placement``); the diffusion loss alone never taught the text encoder which
    colour a relation puts on which side (0003)."""
    ema_decay: float = 0.999
    """The shipped UNet and text encoder are an exponential moving average of the trained
    weights (measured at 1800 steps: main-shape colour 62 % against 53 % without)."""

    def __post_init__(self) -> None:
        if self.processes < 1 or self.threads < 1:
            raise ValueError("processes and threads must be at least 1")
        for name in ("vae_batch", "unet_batch"):
            if getattr(self, name) % self.processes:
                raise ValueError(f"{name} must be a multiple of processes ({self.processes})")
        if self.place_weight < 0 or self.shape_weight < 0:
            raise ValueError("place_weight and shape_weight must not be negative")
        if self.text_encoder not in TEXT_ENCODERS:
            raise ValueError(f"text_encoder must be one of {TEXT_ENCODERS}")


@dataclass(frozen=True)
class TrainResult:
    """What a finished run produced."""

    folder: Path
    loss_log: Path
    seconds: float
    final_vae_loss: float
    final_unet_loss: float


def _lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up then cosine decay to a tenth."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


def render_dataset(seed: int, count: int) -> tuple[np.ndarray, list[Scene]]:
    """``count`` training scenes and their images as uint8 ``(N, 64, 64, 3)``."""
    import numpy as np

    from swarmgen.tools.shapes.scenes import scenes

    items = list(scenes(seed, count, held_out=False))
    pixels = np.stack([np.asarray(s.render(), dtype=np.uint8) for s in items])
    return pixels, items


class _LossLog:
    """Appends one JSON object per optimiser step and keeps running means."""

    def __init__(self, path: Path, on_step: StepCallback | None) -> None:
        self.path = path
        self.on_step = on_step
        self.started = time.perf_counter()
        self.mean = 0.0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", encoding="utf-8")

    def record(
        self, phase: str, step: int, total: int, loss: float, lr: float, **extra: float
    ) -> None:
        """One step's row: ``loss`` is the phase's own objective, ``extra`` any
        auxiliary losses added to it."""
        self.mean = loss if step == 0 else 0.98 * self.mean + 0.02 * loss
        row = {
            "phase": phase,
            "step": step,
            "loss": round(loss, 6),
            **{name: round(value, 6) for name, value in extra.items()},
            "lr": lr,
            "seconds": round(time.perf_counter() - self.started, 2),
        }
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        if self.on_step is not None:
            self.on_step(phase, step, total, loss)

    def close(self) -> None:
        self._file.close()


class _Silent:
    """The loss log of a replica other than the first: the first one writes and reports
    for all (every replica sees the same averaged loss)."""

    mean = 0.0

    def record(
        self, phase: str, step: int, total: int, loss: float, lr: float, **extra: float
    ) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _Group:
    """This process's place among the data-parallel replicas of one run."""

    rank: int = 0
    size: int = 1

    def share(self, batch: Any) -> Any:
        """This replica's equal slice of a global batch (rows)."""
        per = len(batch) // self.size
        return batch[self.rank * per : (self.rank + 1) * per]

    def average(self, params: list[Any], *losses: Any) -> list[float]:
        """Average the gradients of ``params`` over the replicas, in place, and return
        the average of each scalar in ``losses``.

        One collective per step: the gradients and the losses travel in a single flat
        buffer. Every replica gets the same sum, so all take the same optimiser step.
        """
        if self.size == 1:
            return [float(loss.item()) for loss in losses]
        import torch
        import torch.distributed as dist

        grads = [p.grad for p in params if p.grad is not None]
        scalars = [loss.detach().reshape(1) for loss in losses]
        flat = torch.cat([*(g.reshape(-1) for g in grads), *scalars])
        dist.all_reduce(flat)
        flat /= self.size
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()
        means: list[float] = flat[offset:].tolist()
        return means


def _train_vae(
    pipe: Any,
    images: Any,
    *,
    config: TrainConfig,
    gen: Any,
    group: _Group,
    out: _LossLog | _Silent,
) -> float:
    """Fit the autoencoder on latent means (the UNet only ever sees means)."""
    import torch

    vae = pipe.vae.train()
    params = list(vae.parameters())
    opt = torch.optim.AdamW(params, lr=config.vae_lr, weight_decay=0.0)
    for step in range(config.vae_steps):
        lr = config.vae_lr * _lr_factor(step, config.vae_steps, config.warmup)
        for param_group in opt.param_groups:
            param_group["lr"] = lr
        pick = torch.randint(len(images), (config.vae_batch,), generator=gen)
        batch = images[group.share(pick)]
        latents = vae.encode(batch).latents
        recon = vae.decode(latents).sample
        error = recon - batch
        loss = error.abs().mean() + error.pow(2).mean() + 1e-4 * latents.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        (mean_loss,) = group.average(params, loss)
        opt.step()
        out.record("vae", step, config.vae_steps, mean_loss, lr)
    vae.eval().requires_grad_(False)
    return out.mean


def _encode_all(pipe: Any, images: Any) -> Any:
    """Latent means of every image, scaled to unit variance (sets ``scaling_factor``)."""
    import torch

    with torch.inference_mode():
        chunks = [pipe.vae.encode(images[i : i + 256]).latents for i in range(0, len(images), 256)]
    latents = torch.cat(chunks)
    scale = float(1.0 / latents.std())
    pipe.vae.register_to_config(scaling_factor=scale)
    return (latents * scale).clone()


def _token_ids(tokenizer: Any, captions: list[str]) -> Any:
    return tokenizer(
        captions,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids


def _train_unet(
    pipe: Any,
    latents: Any,
    items: list[Scene],
    shape_cells: Any,
    *,
    config: TrainConfig,
    gen: Any,
    group: _Group,
    out: _LossLog | _Silent,
) -> float:
    import torch
    from diffusers import DDPMScheduler

    noise_schedule = DDPMScheduler.from_config(pipe.scheduler.config)  # type: ignore[no-untyped-call]
    ids = _token_ids(pipe.tokenizer, [scene.caption for scene in items])
    empty = _token_ids(pipe.tokenizer, [""])
    unet, text = pipe.unet.train(), pipe.text_encoder.train()
    placement = Placement(text.config.hidden_size, pipe.tokenizer, ids, items)
    params = [*unet.parameters(), *text.parameters(), *placement.head.parameters()]
    opt = torch.optim.AdamW(params, lr=config.unet_lr, weight_decay=0.01)
    average = _Average(params, config.ema_decay) if group.rank == 0 else None
    steps = noise_schedule.config.num_train_timesteps
    for step in range(config.unet_steps):
        lr = config.unet_lr * _lr_factor(step, config.unet_steps, config.warmup)
        for param_group in opt.param_groups:
            param_group["lr"] = lr
        # The global batch is drawn whole on every replica, then each takes its share,
        # so the data a run sees does not depend on how many replicas share it.
        pick = torch.randint(len(latents), (config.unet_batch,), generator=gen)
        drop = torch.rand(config.unet_batch, generator=gen) < config.caption_dropout
        noise = torch.randn((config.unet_batch, *latents.shape[1:]), generator=gen)
        t = torch.randint(steps, (config.unet_batch,), generator=gen)
        pick, drop, noise, t = (group.share(x) for x in (pick, drop, noise, t))
        tokens = torch.where(drop[:, None], empty, ids[pick])
        x0 = latents[pick]
        noisy = noise_schedule.add_noise(x0, noise, t)
        target = noise_schedule.get_velocity(x0, noise, t)
        cond = text(tokens)[0]
        weight = 1.0 + config.shape_weight * shape_cells[pick]
        diffusion = (weight * (unet(noisy, t, cond).sample - target).pow(2)).mean()
        place = placement.loss(cond, pick, ~drop)
        opt.zero_grad(set_to_none=True)
        (diffusion + config.place_weight * place).backward()
        mean_diffusion, mean_place = group.average(params, diffusion, place)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if average is not None:
            average.update(step)
        out.record("unet", step, config.unet_steps, mean_diffusion, lr, place=mean_place)
    if average is not None:
        average.copy_to_model()
    unet.eval()
    text.eval()
    return out.mean


class _Average:
    """An exponential moving average of parameters, with the usual warm-up of its decay."""

    def __init__(self, params: list[Any], decay: float) -> None:
        self.params = params
        self.decay = decay
        self.shadow = [p.detach().clone() for p in params]

    def update(self, step: int) -> None:
        import torch

        decay = min(self.decay, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1.0 - decay)

    def copy_to_model(self) -> None:
        import torch

        with torch.no_grad():
            for shadow, param in zip(self.shadow, self.params, strict=True):
                param.copy_(shadow)


def _fit(
    config: TrainConfig, group: _Group, out_dir: Path, on_step: StepCallback | None
) -> TrainResult | None:
    """One replica's share of a run; the first replica saves and returns the result."""
    import torch

    from swarmgen.tools.shapes.pipeline import build_pipeline, save_pipeline

    started = time.perf_counter()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    gen = torch.Generator("cpu").manual_seed(config.seed)
    pixels, items = render_dataset(config.seed, config.images)
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    pipe = build_pipeline(config.seed, config.text_encoder)
    first = group.rank == 0
    loss_log = _LossLog(out_dir / "loss.jsonl", on_step) if first else _Silent()
    try:
        vae_loss = _train_vae(pipe, images, config=config, gen=gen, group=group, out=loss_log)
        latents = _encode_all(pipe, images)
        cells = shape_cells(pixels, items, latents.shape[-1])
        unet_loss = _train_unet(
            pipe, latents, items, cells, config=config, gen=gen, group=group, out=loss_log
        )
    finally:
        loss_log.close()
    if not first:
        return None
    folder = out_dir / "shapes-64"
    save_pipeline(pipe, folder)
    seconds = time.perf_counter() - started
    summary = {**asdict(config), "seconds": round(seconds, 1)}
    (out_dir / "train.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    log.info("trained shapes-64 in %.0f s", seconds)
    return TrainResult(folder, out_dir / "loss.jsonl", seconds, vae_loss, unet_loss)


_COLLECTIVE_TIMEOUT = timedelta(minutes=5)
"""How long a replica waits for its peers in one collective before the run fails."""


def _join(rank: int, size: int, rendezvous: Path) -> _Group:
    import torch.distributed as dist

    # Replicas talk over loopback only, whatever the host name resolves to.
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group(
        "gloo",
        init_method=rendezvous.as_uri(),
        rank=rank,
        world_size=size,
        timeout=_COLLECTIVE_TIMEOUT,
    )
    return _Group(rank, size)


def _replica(rank: int, config: TrainConfig, out_dir: Path, rendezvous: Path) -> None:
    """Entry point of a spawned replica (ranks 1 and up)."""
    import torch.distributed as dist

    from swarmgen.processes import exit_with_parent

    exit_with_parent()
    group = _join(rank, config.processes, rendezvous)
    try:
        _fit(config, group, out_dir, None)
    finally:
        dist.destroy_process_group()


def train(config: TrainConfig, out_dir: Path, on_step: StepCallback | None = None) -> TrainResult:
    """Train shapes-64 and save the pipeline to ``out_dir/shapes-64``.

    This process is the first replica; the others are spawned for the run and joined
    before it returns. A replica that fails fails the run.
    """
    if config.processes == 1:
        result = _fit(config, _Group(), out_dir, on_step)
        assert result is not None
        return result
    import multiprocessing

    import torch.distributed as dist

    with tempfile.TemporaryDirectory(prefix="shapes-train-") as scratch:
        rendezvous = Path(scratch) / "rendezvous"
        context = multiprocessing.get_context("spawn")
        others = [
            context.Process(target=_replica, args=(rank, config, out_dir, rendezvous), daemon=True)
            for rank in range(1, config.processes)
        ]
        for process in others:
            process.start()
        try:
            group = _join(0, config.processes, rendezvous)
            try:
                result = _fit(config, group, out_dir, on_step)
            finally:
                dist.destroy_process_group()
        except BaseException:
            for process in others:
                process.terminate()
            raise
        finally:
            for process in others:
                process.join()
    failed = [p.exitcode for p in others if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"a training replica exited with code {failed[0]}")
    assert result is not None
    return result
