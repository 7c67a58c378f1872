"""Does verification catch the cheater zoo? Per-check detection, honest false positives, cost.

For an image offering (default ``shapes-64@fp32``) and a text offering (default
``smollm2-135m@fp32``), every check compares a claim with an honest validator's own
work, with the offering's calibrated thresholds from the registry:

- images: the validator re-executes the job (2 torch threads, batches of 4) and the
  coordinator compares artifacts it computes from both PNGs (``compare_image_sets``);
  claims come from 1 thread, one job per batch, honest or through a
  :class:`~swarmgen.tools.cheats.CheatingBackend` with rate 1 (step cuts of 50 %,
  25 % and 10 %: ``fewer-steps``, ``fewer-steps-25``, ``fewer-steps-10``);
- text: claims are generated with 1 thread; the validator runs the same jobs blinded
  (2 threads, the same sampling ids, so the same RNG draws) and ``check_text`` compares
  the two runs. Half the jobs are greedy, half sampled (T=0.8, top-p 0.95).

The prompts and seeds differ from the ones calibration fit the thresholds on.

Also reported, from the measured per-check rates and the core's own rules:

- median jobs until invalidated: a worker that cheats on every job is simulated epoch by
  epoch with ``sampling_rate`` / ``reputation_after``, the 1 → 3 → 5 panel
  (``rejection_probability``) and ``epoch_verdict`` with the calibrated honest
  false-positive bound. ``new``: a worker that cheats from its first job;
  ``trusted``: one with 50 clean epochs behind it (checked at about the floor);
- verification compute share at steady state: long-standing workers are checked at the
  policy floor (normal traffic) times the expected panel size; a check costs the
  validator's measured seconds and a job the claimant's, both timed with 1 thread
  (for both kinds, validation is re-running the job);
- validators: detection per check when a share of the validator pool is lazy (agrees
  without looking) or colludes with the cheater.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python bench/verify.py [--checks 500]
[--cache /tmp/swarmgen-cache] [--image shapes-64@fp32] [--text smollm2-135m@fp32]``.
Image and text run in two processes side by side. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from verify_sim import jobs_until_invalid, steady_share, validator_pool

TARGET_CHEATS: tuple[str, ...] = ("wrong-seed", "other-model", "noise", "copy", "altered-prompt")
TARGET_CHEATS += ("fewer-steps", "fewer-steps-25", "random-tokens", "prefill")
"""Cheats with a per-check detection target of 99 %."""
TARGET_DETECTION = 0.99
TARGET_HONEST_FP = 0.001
TARGET_SHARE = 0.03
TEXT_TOKENS = 12
"""Tokens per text job: short answers keep the bench inside half an hour on 2 cores."""
BENCH_SEED = 2
"""Job seed stream of the bench; calibration uses another."""


@dataclass
class PartResult:
    """What one offering's run measured."""

    offering: str
    checks: int
    honest_fp: float
    honest_fp_bound: float
    detection: dict[str, float]
    reasons: dict[str, dict[str, int]]
    claim_s: float
    """Claimant seconds per job, 1 thread."""
    validate_s: float
    """Validator seconds per check, 1 thread."""
    calibrated_fp_bound: float | None
    distances: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per cheat (and honest): median and 95th percentile of each distance."""
    thresholds: dict[str, float] = field(default_factory=dict)
    wrong_seed_passes: list[bool] = field(default_factory=list)
    blank_jobs: int = 0
    """Images: jobs on which the validator's own image is a blank canvas (see ``is_blank``)."""
    missed_on_blank: dict[str, int] = field(default_factory=dict)
    """Images: per cheat, how many of its missed checks were on blank-canvas jobs."""


class Memo:
    """A backend wrapper that runs each job once and replays the output afterwards."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.offering = inner.offering
        self.max_batch = inner.max_batch
        self._seen: dict[str, Any] = {}

    def load(self) -> None:
        self.inner.load()

    def run(self, jobs: Sequence[Any]) -> list[Any]:
        todo = [job for job in jobs if job.input_digest() not in self._seen]
        if todo:
            for job, output in zip(todo, self.inner.run(todo), strict=True):
                self._seen[job.input_digest()] = output
        return [self._seen[job.input_digest()] for job in jobs]


BLANK_STD = 2.0
"""Largest per-channel standard deviation, in 0-255 levels, of a blank canvas."""


def is_blank(output: Any) -> bool:
    """True when an image output's first image is one flat colour: no shape was drawn.

    On such a job the offering paints the same canvas whatever the seed, step count or
    a swapped word, so a cheat's image is the honest image and no comparison of images
    can tell them apart.
    """
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(output.images[0])) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    return float(pixels.std(axis=(0, 1)).max()) < BLANK_STD


def _timed(call: Any, *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call(*args)
    return result, time.perf_counter() - started


def _reasons(comparisons: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for comparison in comparisons:
        if not comparison.passed:
            counts[comparison.reason] = counts.get(comparison.reason, 0) + 1
    return counts


def _quantiles(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": ordered[len(ordered) // 2],
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
    }


class _Setup(NamedTuple):
    """One part's registry, offering and loaded backends."""

    registry: Any
    offering: Any
    entry: Any
    thresholds: dict[str, Any]
    """The offering's calibrated thresholds as stored in the registry."""
    claimant: Any
    """1 torch thread, as a worker's single job."""
    validator: Any
    """2 torch threads."""


def _setup(offering_text: str, cache: Path, registry: Path | None) -> _Setup:
    """Load the registry and both backends of one part."""
    from swarmgen.backends.factory import make_backend
    from swarmgen.core.offerings import Offering
    from swarmgen.registry import load_registry

    reg = load_registry(registry)
    offering = Offering.parse(offering_text)
    entry = reg.entry(offering)
    claimant = make_backend(entry, offering, cache_dir=cache, threads=1)
    validator = make_backend(entry, offering, cache_dir=cache, threads=2)
    claimant.load()
    validator.load()
    return _Setup(reg, offering, entry, reg.offering(offering).thresholds, claimant, validator)


def run_image(
    offering_text: str, checks: int, cache: Path, registry: Path | None, only: set[str]
) -> PartResult:
    """Image checks: honest and every image cheat against a 2-thread validator."""
    from swarmgen.core.offerings import Kind
    from swarmgen.core.verification import ImageThresholds
    from swarmgen.core.verification.imagecheck import METRICS
    from swarmgen.core.verification.verdicts import upper_confidence_bound
    from swarmgen.tools.calibration import (
        compare_image_outputs,
        image_distances,
        image_jobs,
        run_batched,
    )
    from swarmgen.tools.cheats import Cheat, cheats_for
    from swarmgen.tools.cheats.build import make_cheater

    reg, offering, _, table, claimant, validator = _setup(offering_text, cache, registry)
    thresholds = ImageThresholds.from_mapping(table)
    jobs = image_jobs(offering, checks, BENCH_SEED)
    reference = run_batched(validator, jobs, 4)
    honest, claim_seconds = _timed(run_batched, claimant, jobs, 1)
    per_claim = {"honest": honest}
    for cheat in _selected(cheats_for(Kind.IMAGE), only):
        backend = make_cheater(
            reg, offering, cheat, cache_dir=cache, threads=1, inner=claimant, seed=BENCH_SEED
        )
        if cheat is Cheat.COPY:  # a copier's first job has nothing to copy: run one before
            run_batched(backend, image_jobs(offering, 1, BENCH_SEED + 1), 1)
        per_claim[str(cheat)] = run_batched(backend, jobs, 1)
    blank = [is_blank(r) for r in reference]
    detection, reasons, distances, missed_on_blank = {}, {}, {}, {}
    honest_fails = 0
    wrong_seed: list[bool] = []
    for name, claims in per_claim.items():
        results = [
            compare_image_outputs(c, r, 1, thresholds)
            for c, r in zip(claims, reference, strict=True)
        ]
        failed = sum(1 for r in results if not r.passed)
        if name == "honest":
            honest_fails = failed
        else:
            detection[name] = failed / len(results)
            missed_on_blank[name] = sum(
                1 for r, flat in zip(results, blank, strict=True) if r.passed and flat
            )
        if name == "wrong-seed":
            wrong_seed = [r.passed for r in results]
        reasons[name] = _reasons(results)
        found = image_distances(claims, reference)
        distances[name] = {
            f"{metric}_{q}": v
            for metric in METRICS
            for q, v in _quantiles([getattr(d, metric) for d in found]).items()
        }
    calibrated = table.get("false_positive_bound")
    limits = {m: thresholds.limit(m) for m in METRICS}
    return PartResult(
        offering=offering_text,
        checks=checks,
        honest_fp=honest_fails / checks,
        honest_fp_bound=upper_confidence_bound(honest_fails, checks),
        detection=detection,
        reasons=reasons,
        claim_s=claim_seconds / checks,
        validate_s=claim_seconds / checks,  # a re-execution is the job itself
        calibrated_fp_bound=float(calibrated) if calibrated is not None else None,
        distances=distances,
        thresholds=limits,
        wrong_seed_passes=wrong_seed,
        blank_jobs=sum(blank),
        missed_on_blank=missed_on_blank,
    )


def run_text(
    offering_text: str, checks: int, cache: Path, registry: Path | None, only: set[str]
) -> PartResult:
    """Text checks: honest and every text cheat against a 2-thread validator's blinded run."""
    from swarmgen.backends.factory import make_backend
    from swarmgen.core.offerings import Kind
    from swarmgen.core.verification import TextThresholds
    from swarmgen.core.verification.verdicts import upper_confidence_bound
    from swarmgen.tools.calibration import check_text_claim, run_batched, text_jobs
    from swarmgen.tools.cheats import Cheat, cheats_for
    from swarmgen.tools.cheats.build import accomplice_for, make_cheater

    reg, offering, entry, table, claimant, validator = _setup(offering_text, cache, registry)
    thresholds = TextThresholds.from_mapping(table)
    jobs = text_jobs(offering, checks, BENCH_SEED, max_tokens=TEXT_TOKENS)
    honest, claim_seconds = _timed(run_batched, claimant, jobs, 1)
    reference = run_batched(validator, jobs, 1)
    per_claim = {"honest": honest}
    # The other model doubles as the pre-fill writer: generate its text once.
    writer = Memo(accomplice_for(entry, offering, Cheat.OTHER_MODEL, cache, 1))
    for cheat in _selected(cheats_for(Kind.TEXT), only):
        shared = writer if cheat in (Cheat.OTHER_MODEL, Cheat.PREFILL) else None
        backend = make_cheater(
            reg,
            offering,
            cheat,
            cache_dir=cache,
            threads=1,
            inner=claimant,
            accomplice=shared,
            seed=BENCH_SEED,
        )
        per_claim[str(cheat)] = run_batched(backend, jobs, 1)
    detection, reasons, distances = {}, {}, {}
    honest_fails = 0
    for name, claims in per_claim.items():
        results = [
            check_text_claim(job, claim, ref, thresholds)
            for job, claim, ref in zip(jobs, claims, reference, strict=True)
        ]
        failed = sum(1 for r in results if not r.passed)
        if name == "honest":
            honest_fails = failed
        else:
            detection[name] = failed / len(results)
        reasons[name] = _reasons(results)
        distances[name] = _quantiles([r.distance or 0.0 for r in results])
    timing = make_backend(entry, offering, cache_dir=cache, threads=1)
    sample = jobs[: min(60, checks)]
    _, validate_seconds = _timed(
        lambda: [
            check_text_claim(j, c, r, thresholds)
            for j, c, r in zip(
                sample, honest[: len(sample)], run_batched(timing, sample, 1), strict=True
            )
        ]
    )
    calibrated = table.get("false_positive_bound")
    return PartResult(
        offering=offering_text,
        checks=checks,
        honest_fp=honest_fails / checks,
        honest_fp_bound=upper_confidence_bound(honest_fails, checks),
        detection=detection,
        reasons=reasons,
        claim_s=claim_seconds / checks,
        validate_s=validate_seconds / len(sample),
        calibrated_fp_bound=float(calibrated) if calibrated is not None else None,
        distances=distances,
        thresholds={"max_distance": thresholds.max_distance},
    )


def _selected(cheats: Sequence[Any], only: set[str]) -> list[Any]:
    """The cheats named in ``only`` (all of them when it is empty)."""
    return [cheat for cheat in cheats if not only or str(cheat) in only]


def _part(
    kind: str, offering: str, checks: int, cache: str, registry: str | None, *, only: set[str]
) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = Path(registry) if registry else None
    runner = run_image if kind == "image" else run_text
    return asdict(runner(offering, checks, Path(cache), path, only))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--checks", type=int, default=500, help="Checks per cheat and honest.")
    parser.add_argument("--cache", default="/tmp/swarmgen-cache", help="Model cache folder.")
    parser.add_argument("--registry", default=None, help="Registry TOML (default: shipped).")
    parser.add_argument("--image", default="shapes-64@fp32", help="Image offering.")
    parser.add_argument("--text", default="smollm2-135m@fp32", help="Text offering.")
    parser.add_argument("--jobs-per-epoch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=400, help="Simulated workers per cheat.")
    parser.add_argument("--parts", default="image,text", help="Which parts to run.")
    parser.add_argument("--text-checks", type=int, default=None, help="Default: --checks.")
    parser.add_argument(
        "--cheats", default="", help="Comma-separated cheats to run (default: every one)."
    )
    args = parser.parse_args()
    from swarmgen.processes import spawn_pool

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared cores: do not spin
    started = time.perf_counter()
    only = {name.strip() for name in args.cheats.split(",") if name.strip()}
    summary: dict[str, Any] = {}
    with spawn_pool(2) as pool:
        futures = {
            pool.submit(_part, kind, offering, checks, args.cache, args.registry, only=only): kind
            for kind, offering, checks in (
                ("image", args.image, args.checks),
                ("text", args.text, args.text_checks or args.checks),
            )
            if kind in args.parts.split(",")
        }
        parts: dict[str, PartResult] = {}
        for future in as_completed(futures):
            kind = futures[future]
            parts[kind] = PartResult(**future.result())
            summary[kind] = report_part(parts[kind], args)
            if kind == "image":
                _image_notes(parts[kind], summary[kind])
    print(json.dumps(final(parts, summary, args, time.perf_counter() - started), sort_keys=True))


def _jobs(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f}"


def _image_notes(image: PartResult, summary: dict[str, Any]) -> None:
    """Blank canvases, colluding validators, and whether undeclared int8 can be told apart."""
    drawn = image.checks - image.blank_jobs
    missed = {name: round((1.0 - rate) * image.checks) for name, rate in image.detection.items()}
    where_drawn = {
        name: 1.0 - (count - image.missed_on_blank[name]) / drawn if drawn else 0.0
        for name, count in missed.items()
    }
    print(
        f"{image.offering}: the validator's image is a blank canvas (every channel within "
        f"{BLANK_STD:.0f} levels) on {image.blank_jobs} of {image.checks} jobs; there the "
        "offering paints the same canvas for any seed, step count or swapped word, so a "
        "cheat returns the honest image and no image comparison can tell"
    )
    print(f"{'claim':<15} {'missed':>7} {'on blank':>9} {'detect/check where drawn':>25}")
    for name, rate in where_drawn.items():
        print(f"{name:<15} {missed[name]:>7} {image.missed_on_blank[name]:>9} {rate:>25.4f}")
    summary["blank_jobs"] = image.blank_jobs
    summary["detection_where_drawn"] = where_drawn
    summary["min_detection_where_drawn"] = min(
        (where_drawn[name] for name in TARGET_CHEATS if name in where_drawn), default=None
    )
    for bad in (0.1, 0.3) if image.wrong_seed_passes else ():
        rate = validator_pool(image.wrong_seed_passes, bad, seed=3)
        print(
            f"{image.offering}: wrong-seed detection per check with {bad:.0%} colluding "
            f"(or lazy) validators in the pool: {rate:.4f}"
        )
        summary[f"detection_with_{int(bad * 100)}pct_colluding"] = rate
    int8 = image.detection.get("int8")
    if int8 is not None and int8 < TARGET_DETECTION:
        d = image.distances["int8"]
        print(
            f"{image.offering}: undeclared int8 is caught on {int8:.1%} of checks; its distances "
            f"(p50/p95) pixel {d['pixel_p50']:.4f}/{d['pixel_p95']:.4f}, changed "
            f"{d['changed_p50']:.4f}/{d['changed_p95']:.4f} against limits pixel "
            f"{image.thresholds['pixel']:.4f}, changed {image.thresholds['changed']:.4f}: "
            "not separable at a safe threshold, so int8 must not be priced below fp32"
        )


def report_part(part: PartResult, args: argparse.Namespace) -> dict[str, Any]:
    """Print one offering's table and return its summary."""
    print(
        f"\n{'offering':<20} {'claim':<15} {'detect/check':>12} {'median jobs new':>16} "
        f"{'trusted':>10}  failing on"
    )
    bound = part.calibrated_fp_bound or part.honest_fp_bound
    per: dict[str, Any] = {}
    for name, rate in {"honest": part.honest_fp, **part.detection}.items():
        new, old = (
            jobs_until_invalid(
                rate,
                bound,
                trusted=trusted,
                jobs_per_epoch=args.jobs_per_epoch,
                runs=args.runs,
                seed=seed,
            )
            for trusted, seed in ((False, 1), (True, 2))
        )
        why = ", ".join(f"{k} {v}" for k, v in sorted(part.reasons[name].items()))
        columns = f"{part.offering:<20} {name:<15} {rate:>12.4f}"
        print(f"{columns} {_jobs(new):>16} {_jobs(old):>10}  {why}")
        per[name] = {"detection": rate, "median_jobs_new": new, "median_jobs_trusted": old}
    share = steady_share(part.honest_fp, part.claim_s, part.validate_s)
    print(
        f"{part.offering}: honest false positives {part.honest_fp:.4f} per check "
        f"(95 % bound {part.honest_fp_bound:.4f}) over {part.checks}; "
        f"claim {part.claim_s:.3f} s, check {part.validate_s:.3f} s; "
        f"steady-state verification share {share:.4f}",
        flush=True,
    )
    return {
        "offering": part.offering,
        "honest_fp": part.honest_fp,
        "share": share,
        "cheats": per,
        "distances": part.distances,
        "thresholds": part.thresholds,
    }


def final(
    parts: dict[str, PartResult],
    summary: dict[str, Any],
    args: argparse.Namespace,
    elapsed: float,
) -> dict[str, Any]:
    """The closing JSON object: headline figures first, then per-offering detail."""
    detections = [
        part.detection[name]
        for part in parts.values()
        for name in TARGET_CHEATS
        if name in part.detection
    ]
    return {
        "min_detection": min(detections, default=None),
        "honest_fp": max(part.honest_fp for part in parts.values()),
        "verify_compute_share": max(summary[k]["share"] for k in parts),
        "checks": {kind: part.checks for kind, part in parts.items()},
        "elapsed_s": round(elapsed, 1),
        "targets": {
            "detection": TARGET_DETECTION,
            "honest_fp": TARGET_HONEST_FP,
            "share": TARGET_SHARE,
        },
        **summary,
    }


if __name__ == "__main__":
    main()
