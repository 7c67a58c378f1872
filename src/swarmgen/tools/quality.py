"""Quality of a model's tiers against fp32: memory, speed, and how far each tier's outputs move.

Each tier runs in a Python process of its own, which loads it as a worker would and
measures its memory, its speed and its outputs (:mod:`swarmgen.tools.measurement`).
This module runs fp32 and the tiers and compares each tier's outputs with fp32's: images
by PSNR and SSIM (scikit-image), 64-bit pHash distance and the shapes evaluation (main
colour, background, count); text by top-1 agreement and mean KL divergence over fp32's
top-5 tokens, both teacher-forced on fp32's answers, and the share of answers identical
to fp32's. It renders the reports as a table, a plot and the registry's figures.
"""

from __future__ import annotations

import base64
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from swarmgen.tools.measurement import image_prompts, text_output

BITS = {"fp32": 32, "fp16": 16, "bf16": 16, "int8": 8, "int4": 4}


@dataclass
class TierReport:
    """What one tier's process measured and how its outputs compare with fp32's."""

    offering: str
    bits: int
    weight_bytes: int
    kept_bytes: int
    packed_bytes: int
    peak_rss: int
    speed: float
    """Seconds per image (images) or tokens per second (text)."""
    quality: dict[str, float] = field(default_factory=dict)


def _image_quality(tier: dict[str, Any], fp32: dict[str, Any], count: int) -> dict[str, float]:
    import io

    import imagehash
    import numpy as np
    from PIL import Image
    from skimage.metrics import structural_similarity

    from swarmgen.tools.shapes.analysis import judge
    from swarmgen.tools.shapes.scenes import parse_caption

    prompts = image_prompts(count)
    squared, ssim, phash = [], [], []
    verdicts = []
    for prompt, ours, theirs in zip(
        prompts, tier["outputs"]["images"], fp32["outputs"]["images"][:count], strict=True
    ):
        a = Image.open(io.BytesIO(base64.b64decode(ours))).convert("RGB")
        b = Image.open(io.BytesIO(base64.b64decode(theirs))).convert("RGB")
        x, y = np.asarray(a), np.asarray(b)
        squared.append(float(np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2)))
        ssim.append(float(structural_similarity(y, x, channel_axis=2, data_range=255)))  # type: ignore[no-untyped-call]
        phash.append((imagehash.phash(a) - imagehash.phash(b)) / 64)
        verdicts.append(judge(a, parse_caption(prompt)))
    n = max(1, len(verdicts))
    mse = float(np.mean(squared))  # pooled over every image: one PSNR for the set
    caught = _images_caught(tier, fp32)
    return {
        "psnr_db": 10 * math.log10(255**2 / mse) if mse > 0 else 99.0,  # 99: identical
        "ssim": float(np.mean(ssim)),
        "phash_distance": float(np.mean(phash)),
        "color_accuracy": sum(v.color for v in verdicts) / n,
        "background_accuracy": sum(v.background for v in verdicts) / n,
        "count_accuracy": sum(v.count for v in verdicts) / n,
        "detected_as_fp32": caught,
    }


def _fp32_thresholds(offering: str) -> Any:
    from swarmgen.core.modalities import modality
    from swarmgen.core.offerings import Offering
    from swarmgen.registry import load_registry

    registry = load_registry(economics=False)
    parsed = Offering.parse(offering.rsplit("@", 1)[0] + "@fp32")
    return modality(registry.entry(parsed).kind).thresholds(registry.offering(parsed).thresholds)


def _images_caught(tier: dict[str, Any], fp32: dict[str, Any]) -> float:
    """Share of the tier's images an fp32 check rejects at fp32's calibrated thresholds
    (the tier's image as the claim, fp32's as the validator's run)."""
    from swarmgen.core.verification.imagecheck import compare_images, image_artifacts

    thresholds = _fp32_thresholds(tier["offering"])
    images = tier["outputs"]["images"]
    pairs = zip(images, fp32["outputs"]["images"][: len(images)], strict=True)
    caught = [
        not compare_images(
            image_artifacts(base64.b64decode(ours)),
            image_artifacts(base64.b64decode(theirs)),
            thresholds,
        ).passed
        for ours, theirs in pairs
    ]
    return sum(caught) / max(1, len(caught))


def _text_caught(tier: dict[str, Any], fp32: dict[str, Any], mode: str) -> float:
    """Share of the tier's ``mode`` (greedy or sampled) answers an fp32 check rejects at
    fp32's calibrated thresholds, fp32's own answer being the validator's run."""
    from swarmgen.core.verification import check_text
    from swarmgen.core.verification.failures import Outcome

    thresholds = _fp32_thresholds(tier["offering"])
    claims = tier["outputs"]["claims"][mode]
    pairs = zip(claims, fp32["outputs"]["claims"][mode][: len(claims)], strict=True)
    caught = [
        check_text(text_output(ours), text_output(theirs), mode == "sampled", thresholds).outcome
        is not Outcome.AGREE
        for ours, theirs in pairs
    ]
    return sum(caught) / max(1, len(caught))


def _text_quality(tier: dict[str, Any], fp32: dict[str, Any]) -> dict[str, float]:
    agree = positions = 0
    kl_total = 0.0
    count = len(tier["outputs"]["forced"])  # a saved fp32 run may hold more questions
    for ours, theirs in zip(
        tier["outputs"]["forced"], fp32["outputs"]["forced"][:count], strict=True
    ):
        for q_row, p_row in zip(ours, theirs, strict=True):
            agree += q_row["best"] == p_row["best"]
            p = [math.exp(v) for v in p_row["lp"]]
            q = [math.exp(v) for v in q_row["lp"]]
            ps, qs = sum(p), sum(q)
            kl_total += sum(
                (a / ps) * math.log((a / ps) / max(b / qs, 1e-300))
                for a, b in zip(p, q, strict=True)
            )
            positions += 1
    answers = list(zip(tier["outputs"]["answers"], fp32["outputs"]["answers"][:count], strict=True))
    same = sum(a == b for a, b in answers)
    return {
        "top1_agreement": agree / max(1, positions),
        "kl_top5": kl_total / max(1, positions),
        "exact_match": same / max(1, len(answers)),
        "detected_as_fp32_greedy": _text_caught(tier, fp32, "greedy"),
        "detected_as_fp32_sampled": _text_caught(tier, fp32, "sampled"),
    }


def _run_tier(
    offering: str, cache: Path, threads: int, images: int, *, reference: Path | None, out: Path
) -> dict[str, Any]:
    """Measure ``offering`` in a fresh process (its own peak RSS) and read its report."""
    command = [
        sys.executable, "-m", "swarmgen.tools.measurement", offering, str(cache), str(threads),
        str(images), str(reference or ""), str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    subprocess.run(command, check=True, env=env)
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def run(
    model: str,
    tiers: Sequence[str],
    *,
    cache: Path,
    threads: int = 1,
    images: int = 32,
    reference: Path | None = None,
    on_tier: Callable[[TierReport], None] | None = None,
) -> list[TierReport]:
    """Measure fp32 and every tier in ``tiers`` of ``model``; fp32 is the reference.

    ``images`` is the number of held-out prompts (images) or questions (text, at most the
    fixed set). ``reference``: a saved fp32 run (the JSON report a tier process
    writes) to compare with instead of running fp32 again; it must hold at least
    as many outputs, made at the same thread count."""
    reports: list[TierReport] = []
    with tempfile.TemporaryDirectory(prefix="swarmgen-quality-") as folder:
        base = Path(folder)
        if reference is None:
            reference = base / "fp32.json"
            fp32 = _run_tier(f"{model}@fp32", cache, threads, images, reference=None, out=reference)
        else:
            fp32 = json.loads(reference.read_text())
        for tier in ["fp32", *[t for t in tiers if t != "fp32"]]:
            data = (
                fp32
                if tier == "fp32"
                else _run_tier(
                    f"{model}@{tier}",
                    cache,
                    threads,
                    images,
                    reference=reference,
                    out=base / f"{tier}.json",
                )
            )
            if "images" in data["outputs"]:
                quality = _image_quality(data, fp32, images)
            else:
                quality = _text_quality(data, fp32)
            report = TierReport(
                offering=data["offering"],
                bits=BITS[tier],
                weight_bytes=data["weight_bytes"],
                kept_bytes=data["kept_bytes"],
                packed_bytes=data["packed_bytes"],
                peak_rss=data["peak_rss"],
                speed=data["speed"],
                quality=quality,
            )
            reports.append(report)
            if on_tier is not None:
                on_tier(report)
    return reports


def render_header(model: str) -> str:
    image = model.startswith("shapes")
    figures = (
        f"{'PSNR dB':>8} {'SSIM':>6} {'pHash':>6} {'colour':>6} {'backgr':>6} {'count':>6}"
        if image
        else f"{'top-1':>6} {'KL@5':>8} {'exact':>6}"
    )
    speed = "s/image" if image else "tok/s"
    return (
        f"{'tier':<20} {'bits':>4} {'weights MB':>10} {'x fp32':>6} {'packed MB':>9} "
        f"{'float MB':>8} {'peak RSS MB':>11} {speed:>8}  {figures}"
    )


_FP32_BYTES: dict[str, int] = {}


def render_row(r: TierReport) -> str:
    model = r.offering.rsplit("@", 1)[0]
    base = _FP32_BYTES.setdefault(model, r.weight_bytes)
    q = r.quality
    if "psnr_db" in q:
        figures = (
            f"{q['psnr_db']:>8.2f} {q['ssim']:>6.4f} {q['phash_distance']:>6.4f} "
            f"{q['color_accuracy']:>6.3f} {q['background_accuracy']:>6.3f} "
            f"{q['count_accuracy']:>6.3f}"
        )
    else:
        figures = f"{q['top1_agreement']:>6.4f} {q['kl_top5']:>8.5f} {q['exact_match']:>6.3f}"
    return (
        f"{r.offering:<20} {r.bits:>4} {r.weight_bytes / 1e6:>10.2f} "
        f"{r.weight_bytes / base:>6.3f} {r.packed_bytes / 1e6:>9.2f} {r.kept_bytes / 1e6:>8.2f} "
        f"{r.peak_rss / 1e6:>11.1f} {r.speed:>8.3f}  {figures}"
    )


def registry_figures(report: TierReport) -> dict[str, float] | None:
    """The quality figures a tier stores in the registry, to 4 significant digits: none for fp32
    (the reference) and not the detection figures, which ``bench/tiers.py`` measures on
    200 checks and stores apart."""
    if report.offering.endswith("@fp32"):
        return None
    return {
        name: float(f"{value:.4g}")
        for name, value in report.quality.items()
        if not name.startswith("detected_")
    }


def as_json(reports: Sequence[TierReport]) -> list[dict[str, Any]]:
    return [asdict(r) for r in reports]


def plot(reports: Sequence[TierReport], path: Path, title: str) -> Path:
    """Quality and memory against bits per weight, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = "psnr_db" in reports[0].quality
    metric = "psnr_db" if image else "top1_agreement"
    label = "PSNR vs fp32 (dB)" if image else "top-1 agreement with fp32"
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for r in reports:
        name = r.offering.rsplit("@", 1)[1]
        if name != "fp32":  # the reference itself: identical by definition
            left.scatter(r.bits, r.quality[metric], color="tab:green")
            left.annotate(name, (r.bits, r.quality[metric]))
        right.scatter(r.bits, r.weight_bytes / 1e6, marker="o", color="tab:blue")
        right.scatter(r.bits, r.peak_rss / 1e6, marker="s", color="tab:orange")
        right.annotate(name, (r.bits, r.weight_bytes / 1e6))
    left.set(xlabel="bits per weight", ylabel=label, xscale="log", title=f"{title}: quality")
    right.set(
        xlabel="bits per weight", ylabel="MB", xscale="log", title="weights (o), peak RSS (s)"
    )
    for axis in (left, right):
        axis.set_xticks([4, 8, 16, 32], ["4", "8", "16", "32"])
        axis.minorticks_off()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
