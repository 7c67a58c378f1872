"""How far honest re-runs of an image offering can drift, against how far step cuts move it.

The thresholds of an image offering must forgive honest runs on hardware calibration
never saw, and still catch small cuts of the denoising steps. This bench measures, per
image metric, the distance between a validator's run (2 torch threads, batches of 4) and:

- ``threads``: an honest claim (1 thread, one job per batch), what calibration measures;
- ``float64``: the same jobs computed in float64 from the same initial latents. An fp32
  run on other hardware differs from the exact result by its own rounding, as this one
  does, so this stands in for another correct fp32 implementation (other kernels, other
  summation order);
- ``tf32``: every convolution and linear layer's inputs and weights rounded to 10
  mantissa bits, as a GPU's TF32 mode does (accumulation stays fp32): what an fp32
  offering served with TF32 enabled would return. It is a lower precision, not fp32;
- ``cut-10`` / ``cut-25`` / ``cut-50``: a tenth, a quarter and half of the steps cut.

For each condition it prints the share the offering's registry thresholds reject
(``rejects``, the coordinator's decision rule), the most levels (of 255) any pixel's
channel moved, and the median and largest value of each metric.

Run: ``HF_HUB_OFFLINE=1 PYTHONPATH=src .venv/bin/python bench/image_noise.py [--count 100]
[--offering shapes-64@fp32]``. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

SEED = 5
"""Job seed stream (calibration uses 1, ``bench/verify.py`` 2)."""


def _float64_run(backend: Any, jobs: list[Any]) -> list[Any]:
    """``jobs`` run in float64, starting from the fp32 latents the backend would draw."""
    import numpy as np
    import torch

    from swarmgen.backends.diffusers_image import encode_png, to_uint8
    from swarmgen.core.outputs import ImageOutput

    pipe = backend._pipe
    pipe.to(torch.float64)
    channels, factor = pipe.unet.config.in_channels, pipe.vae_scale_factor
    outputs = []
    try:
        for job in jobs:
            spec = job.spec
            generator = torch.Generator("cpu").manual_seed(spec.seed)
            shape = (1, channels, spec.height // factor, spec.width // factor)
            latents = torch.randn(shape, generator=generator, dtype=torch.float32)
            with torch.inference_mode():
                result = pipe(
                    prompt=[spec.prompt],
                    negative_prompt=[spec.negative_prompt],
                    width=spec.width,
                    height=spec.height,
                    num_inference_steps=spec.steps,
                    guidance_scale=spec.guidance,
                    guidance_rescale=backend.guidance_rescale,
                    latents=latents.to(torch.float64),
                    output_type="np",
                )
            pixels = to_uint8(result.images.astype(np.float32))
            outputs.append(ImageOutput((encode_png(pixels[0]),)))
    finally:
        pipe.to(torch.float32)
    return outputs


def _tf32(backend: Any) -> None:
    """Round conv and linear inputs and weights to TF32's 10 mantissa bits, in place."""
    import torch

    def rounded(x: torch.Tensor) -> torch.Tensor:
        bits = x.contiguous().view(torch.int32)
        return ((bits + 0x1000) & ~0x1FFF).view(torch.float32)

    pipe = backend._pipe
    for part in (pipe.unet, pipe.text_encoder, pipe.vae):
        for module in part.modules():
            if isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
                with torch.no_grad():
                    module.weight.copy_(rounded(module.weight))
                module.register_forward_pre_hook(lambda _, args: (rounded(args[0]), *args[1:]))


def _largest_step(claims: list[Any], reference: list[Any]) -> int:
    """The most levels (of 255) any channel of any pixel moved between paired outputs."""
    import io

    import numpy as np
    from PIL import Image

    def pixels(output: Any) -> Any:
        with Image.open(io.BytesIO(output.images[0])) as image:
            return np.asarray(image.convert("RGB"), dtype=np.int16)

    return max(
        int(np.abs(pixels(a) - pixels(b)).max()) for a, b in zip(claims, reference, strict=True)
    )


def _quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"min": ordered[0], "p50": at(0.5), "p99": at(0.99), "max": ordered[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=100, help="Jobs per condition.")
    parser.add_argument("--offering", default="shapes-64@fp32")
    parser.add_argument("--cache", default="/tmp/swarmgen-cache")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from swarmgen.backends.factory import make_backend
    from swarmgen.core.offerings import Offering
    from swarmgen.core.verification import ImageThresholds
    from swarmgen.core.verification.imagecheck import METRICS, rejects
    from swarmgen.registry import load_registry
    from swarmgen.tools.calibration import image_distances, image_jobs, run_batched

    started = time.perf_counter()
    registry = load_registry()
    offering = Offering.parse(args.offering)
    entry = registry.entry(offering)
    thresholds = ImageThresholds.from_mapping(registry.offering(offering).thresholds)

    def backend(threads: int) -> Any:
        made = make_backend(entry, offering, cache_dir=Path(args.cache), threads=threads)
        made.load()
        return made

    jobs = image_jobs(offering, args.count, SEED)
    claimant = backend(1)
    reference = run_batched(backend(2), jobs, 4)
    runs = {"threads": run_batched(claimant, jobs, 1)}
    for cut in (10, 25, 50):
        fewer = [
            replace(j, spec=replace(j.spec, steps=j.spec.steps * (100 - cut) // 100)) for j in jobs
        ]
        runs[f"cut-{cut}"] = run_batched(claimant, fewer, 1)
    runs["float64"] = _float64_run(claimant, jobs)
    lowered = backend(1)
    _tf32(lowered)
    runs["tf32"] = run_batched(lowered, jobs, 1)

    summary: dict[str, Any] = {}
    header = "  ".join(f"{m + ' p50/max':>22}" for m in METRICS)
    print(f"{'condition':<9} {'rejected':>8} {'levels':>6}  {header}")
    for name in ("threads", "float64", "tf32", "cut-10", "cut-25", "cut-50"):
        found = image_distances(runs[name], reference)
        per = {m: _quantiles([getattr(d, m) for d in found]) for m in METRICS}
        rejected = sum(1 for d in found if rejects(d, thresholds)) / len(found)
        cells = "  ".join(f"{per[m]['p50']:>10.5f}/{per[m]['max']:<11.5f}" for m in METRICS)
        levels = _largest_step(runs[name], reference)
        print(f"{name:<9} {rejected:>8.3f} {levels:>6}  {cells}")
        summary[name] = {"rejected": rejected, "largest_level_change": levels, "distances": per}
    cut25_min = summary["cut-25"]["distances"]["changed"]["min"]
    honest_max = max(summary[k]["distances"]["changed"]["max"] for k in ("threads", "float64"))
    print(
        f"changed share: honest fp32 runs (threads, float64) at most {honest_max:.4f}, "
        f"a quarter fewer steps at least {cut25_min:.4f}, limit {thresholds.changed:.4f}"
    )
    result = {
        "offering": args.offering,
        "count": args.count,
        "thresholds": {m: thresholds.limit(m) for m in METRICS},
        "honest_fp32_max_changed": honest_max,
        "cut25_min_changed": cut25_min,
        "rejected": {k: v["rejected"] for k, v in summary.items()},
        "largest_level_change": {k: v["largest_level_change"] for k, v in summary.items()},
        "conditions": summary,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
