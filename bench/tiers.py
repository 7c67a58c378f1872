"""Undeclared lower tiers: how often a check at the claimed tier's thresholds catches them.

A worker that declares tier C and runs tier R hands in R's output under C's name. A check
re-executes the job at C (a validator: 2 torch threads, batches of 4 for images) and the
coordinator compares the two at C's calibrated thresholds from the registry (the core's
defaults where C holds none). This bench measures, for every ordered pair of a model's
tiers, the share of such checks that reject: per image job for shapes-64, per greedy and
per sampled job separately for text. R's own outputs under C's name are what an honest
R worker returns (seeds and sampling ids are the job's), so each tier runs each job once
as a claimant (1 thread, one job per batch) and once as a validator; ``claimed == run``
is the honest false-positive rate. The claimant runs also time each tier: CPU seconds per
job at 1 thread (``time.process_time``, which the other load on a shared machine moves far
less than wall time) and wall seconds.

Outputs are kept under ``--out`` (one file per tier and role), so a later
``--compare-only`` run judges them again at the registry's current thresholds (after
``swarmgen calibrate``) without running a model.

Run: ``HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python bench/tiers.py
shapes-64 --checks 200 [--tiers fp32,fp16,bf16,int8,int4] [--out /tmp/swarmgen-tiers]``
(text: ``smollm2-135m --checks 100``: that many greedy and that many sampled jobs).
Prints the table; the last line is one JSON object, whose ``detection_by_tier`` is what
``--write`` stores in the registry under each claimed tier.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import time
from pathlib import Path
from typing import Any

BENCH_SEED = 3
"""Job seed stream of this bench (calibration uses 1, bench/verify.py 2)."""
TEXT_TOKENS = 12
"""Tokens per text job, as in bench/verify.py."""
ORDER = ("fp32", "fp16", "bf16", "int8", "int4")
SAVE_EVERY = 8
"""Jobs between two saves of a run's outputs (a multiple of the image validator's batch
of 4 and of text's greedy/sampled pair)."""


def _jobs(model: str, tier: str, checks: int, kind: str) -> list[Any]:
    from swarmgen.core.offerings import Offering
    from swarmgen.tools.calibration import image_jobs, text_jobs

    offering = Offering.parse(f"{model}@{tier}")
    if kind == "image":
        return image_jobs(offering, checks, BENCH_SEED)
    return text_jobs(offering, 2 * checks, BENCH_SEED, max_tokens=TEXT_TOKENS)


def generate(model: str, tier: str, role: str, checks: int, *, cache: Path, out: Path) -> Path:
    """Run every job of ``tier`` as a claimant or validator; keep outputs and timings."""
    from swarmgen.backends.factory import make_backend
    from swarmgen.core.offerings import Offering
    from swarmgen.registry import load_registry
    from swarmgen.tools.calibration import run_batched

    path = out / f"{model}-{tier}-{role}-{checks}.pkl"
    kept = _kept(out, model, tier, role)
    if kept and kept[-1][0] >= checks:  # a longer run holds these jobs first
        return kept[-1][1]
    offering = Offering.parse(f"{model}@{tier}")
    entry = load_registry(economics=False).entry(offering)
    kind = entry.kind.value
    threads, batch = (1, 1) if role == "claim" else (2, 4 if kind == "image" else 1)
    backend = make_backend(entry, offering, cache_dir=cache, threads=threads)
    backend.load()
    jobs = _jobs(model, tier, checks, kind)
    outputs: list[Any] = []
    cpu = wall = 0.0
    if kept:  # a run cut short goes on where it stopped
        record = pickle.loads(kept[-1][1].read_bytes())
        outputs = list(record["outputs"])
        cpu, wall = record["cpu_s"] * len(outputs), record["wall_s"] * len(outputs)
    for start in range(len(outputs), len(jobs), SAVE_EVERY):  # saved as it goes
        began, clock = time.process_time(), time.perf_counter()
        outputs += run_batched(backend, jobs[start : start + SAVE_EVERY], batch)
        cpu += time.process_time() - began
        wall += time.perf_counter() - clock
        done = len(outputs) // (1 if kind == "image" else 2)
        record = {"outputs": outputs, "cpu_s": cpu / len(outputs), "wall_s": wall / len(outputs)}
        path = out / f"{model}-{tier}-{role}-{done}.pkl"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(record))
        tmp.replace(path)
        for count, old in _kept(out, model, tier, role):
            if count < done:
                old.unlink(missing_ok=True)
    print(f"{model}@{tier} {role}: {len(jobs)} jobs, {cpu / len(jobs):.3f} CPU s/job", flush=True)
    del backend
    gc.collect()
    return path


def _kept(out: Path, model: str, tier: str, role: str) -> list[tuple[int, Path]]:
    """Kept runs of ``tier`` in ``role``, shortest first, with their job counts."""
    return sorted(
        (int(p.stem.rsplit("-", 1)[1]), p) for p in out.glob(f"{model}-{tier}-{role}-*.pkl")
    )


def _load(out: Path, model: str, tier: str, role: str) -> dict[str, Any] | None:
    """The longest kept run of ``tier`` in ``role``. Job lists are prefixes of one
    another, so runs of different lengths are compared on their common first jobs."""
    kept = _kept(out, model, tier, role)
    return pickle.loads(kept[-1][1].read_bytes()) if kept else None


def compare(model: str, tiers: list[str], checks: int, out: Path) -> dict[str, Any]:
    """Per ordered pair (claimed, run): share of checks at claimed's thresholds that reject."""
    from swarmgen.core.modalities import modality
    from swarmgen.core.offerings import Offering
    from swarmgen.registry import load_registry
    from swarmgen.tools.calibration import check_text_claim, compare_image_outputs

    registry = load_registry(economics=False)
    kind = registry.entry(Offering.parse(f"{model}@fp32")).kind
    image = kind.value == "image"
    jobs = _jobs(model, "fp32", checks, kind.value)
    claims = {t: _load(out, model, t, "claim") for t in tiers}
    table: dict[str, dict[str, dict[str, float]]] = {}
    for claimed in tiers:
        validator = _load(out, model, claimed, "validate")
        if validator is None:
            continue
        offering = Offering.parse(f"{model}@{claimed}")
        stored = registry.offering(offering).thresholds
        thresholds = modality(kind).thresholds(stored)
        row: dict[str, dict[str, float]] = {}
        for run in tiers:
            claim = claims[run]
            if claim is None:
                continue
            pairs = zip(jobs, claim["outputs"], validator["outputs"], strict=False)
            if image:
                rejected = [
                    not compare_image_outputs(c, v, 1, thresholds).passed  # type: ignore[arg-type]
                    for _, c, v in pairs
                ]
                row[run] = {"rate": sum(rejected) / len(rejected), "checks": len(rejected)}
                continue
            greedy: list[bool] = []
            sampled: list[bool] = []
            for job, c, v in pairs:
                caught = not check_text_claim(job, c, v, thresholds).passed  # type: ignore[arg-type]
                (sampled if job.spec.sampled else greedy).append(caught)
            row[run] = {
                "greedy": sum(greedy) / len(greedy),
                "sampled": sum(sampled) / len(sampled),
                "checks": len(greedy),
            }
        row["_calibrated"] = {"yes": float("honest_samples" in stored)}
        table[claimed] = row
    timing = {t: _timing(c, image) for t, c in claims.items() if c}
    return {"model": model, "kind": kind.value, "detection": table, "timing": timing}


def _timing(claim: dict[str, Any], image: bool) -> dict[str, float]:
    """A tier's claimant cost: CPU and wall seconds per job and CPU seconds per unit of
    work (an image, or a generated token: tiers may stop at different lengths)."""
    outputs = claim["outputs"]
    units = len(outputs) if image else sum(len(o.token_ids) for o in outputs)
    return {
        "cpu_s": claim["cpu_s"],
        "wall_s": claim["wall_s"],
        "cpu_per_unit": claim["cpu_s"] * len(outputs) / max(1, units),
    }


def prices(result: dict[str, Any]) -> dict[str, str]:
    """Price multipliers that follow the measured CPU cost per unit of work, look-alikes
    priced alike (:func:`~swarmgen.core.tiers.prices_from_cost`), as the registry writes
    them."""
    from swarmgen.core.pricing import multiplier_text
    from swarmgen.core.tiers import parse_detection, prices_from_cost

    cost = {tier: t["cpu_per_unit"] for tier, t in result["timing"].items()}
    if "fp32" not in cost:
        return {}
    detection = {c: parse_detection(c, t) for c, t in registry_form(result).items()}
    return {tier: multiplier_text(p) for tier, p in prices_from_cost(cost, detection).items()}


def render(result: dict[str, Any]) -> str:
    """The table: one row per pair, then each tier's cost relative to fp32."""
    image = result["kind"] == "image"
    lines = [f"\n{result['model']}: share of checks at the claimed tier's thresholds that reject"]
    head = f"{'claimed':<8} {'run':<6} {'checks':>6} "
    lines.append(head + (f"{'detect':>7}" if image else f"{'greedy':>7} {'sampled':>8}"))
    for claimed, row in result["detection"].items():
        calibrated = row["_calibrated"]["yes"] > 0
        for run, figures in row.items():
            if run.startswith("_"):
                continue
            label = "honest" if run == claimed else run
            cells = (
                f"{figures['rate']:>7.3f}"
                if image
                else f"{figures['greedy']:>7.3f} {figures['sampled']:>8.3f}"
            )
            note = "" if calibrated else "  (default thresholds)"
            lines.append(f"{claimed:<8} {label:<6} {figures['checks']:>6} {cells}{note}")
    timing = result["timing"]
    base = timing.get("fp32", {}).get("cpu_per_unit")
    unit = "image" if image else "token"
    lines.append(
        f"\n{'tier':<6} {'CPU s/job':>10} {'wall s/job':>10} {'CPU s/' + unit:>12} "
        f"{'x fp32':>7} {'price':>6}"
    )
    priced = prices(result)
    for tier, t in timing.items():
        ratio = f"{t['cpu_per_unit'] / base:>7.3f}" if base else f"{'-':>7}"
        lines.append(
            f"{tier:<6} {t['cpu_s']:>10.3f} {t['wall_s']:>10.3f} {t['cpu_per_unit']:>12.4f} "
            f"{ratio} {priced.get(tier, '-'):>6}"
        )
    return "\n".join(lines)


def registry_form(result: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """``detection_by_tier`` per claimed tier, as the registry stores it: runs that save
    (not above the claimed tier), no honest row."""
    from swarmgen.core.tiers import TIER_RANK

    return {
        claimed: {
            run: f
            for run, f in row.items()
            if run in TIER_RANK and run != claimed and TIER_RANK[run] >= TIER_RANK[claimed]
        }
        for claimed, row in result["detection"].items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("model")
    parser.add_argument("--checks", type=int, default=200, help="Jobs per pair (text: per mode).")
    parser.add_argument("--tiers", default=",".join(ORDER))
    parser.add_argument("--claimed", default="fp32,fp16,bf16,int8", help="Tiers checked as.")
    parser.add_argument("--cache", default="/tmp/swarmgen-cache", help="Model cache folder.")
    parser.add_argument("--out", default="/tmp/swarmgen-tiers", help="Outputs kept here.")
    parser.add_argument("--compare-only", action="store_true", help="Run no model.")
    parser.add_argument("--only", choices=["", "claim", "validate"], default="", help="One role.")
    parser.add_argument("--write", action="store_true", help="Store detection in the registry.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    tiers = [t for t in ORDER if t in args.tiers.split(",")]
    claimed = [t for t in tiers if t in args.claimed.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if not args.compare_only:
        # the fp32 pairs first, so a run cut short still has the headline figures
        steps = [("fp32", "validate")] if "fp32" in claimed else []
        steps += [(t, "claim") for t in tiers]
        steps += [(t, "validate") for t in claimed if t != "fp32"]
        steps = [(t, role) for t, role in steps if args.only in {"", role}]
        for tier, role in steps:
            generate(args.model, tier, role, args.checks, cache=Path(args.cache), out=out)
    result = compare(args.model, tiers, args.checks, out)
    print(render(result))
    if args.write:
        from swarmgen.core.offerings import Offering
        from swarmgen.registry_edit import set_detection_by_tier, shipped_registry

        path = shipped_registry()
        for tier, table in registry_form(result).items():
            set_detection_by_tier(path, Offering.parse(f"{args.model}@{tier}"), table)
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    result["detection_by_tier"] = registry_form(result)
    result["price_multiplier"] = prices(result)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
