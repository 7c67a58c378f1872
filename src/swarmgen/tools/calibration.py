"""Calibrate an offering's verification thresholds by running it honestly and dishonestly.

Images: a reference run (1 torch thread, one job per batch) is compared with the same
jobs run with 2 threads in batches of 4, and in a separate process; those are the
honest distances. Every image cheat of the zoo runs the same jobs; those are the cheat
distances. :func:`~swarmgen.core.verification.fit_thresholds` turns them into
thresholds, which are stored in the registry with the measured false-positive and
detection rates (overall and per cheat).

Text: claims generated with 1 thread (and in a separate process) are compared with a
validator's blinded run of the same jobs with 2 threads; the honest logprob distances
and the ties where honest runs part ways fit ``max_distance``, ``greedy_tie_margin`` and
``sampled_tie_margin``, and the text cheats give detection rates.

The measurement lives in functions that ``bench/verify.py`` reuses.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from swarmgen.backends.base import Backend
from swarmgen.backends.plugins import load_object
from swarmgen.core.jobs import ImageSpec, Job, Message, TextSpec
from swarmgen.core.modalities import modality
from swarmgen.core.offerings import Kind, Offering
from swarmgen.core.outputs import MAX_CHOICE_MARGIN, ImageOutput, Output, TextOutput
from swarmgen.core.verification import (
    Comparison,
    Failure,
    FailureKind,
    ImageArtifacts,
    ImageDistance,
    ImageThresholds,
    TextThresholds,
    check_text,
    compare_image_sets,
    first_difference,
    fit_threshold,
    fit_thresholds,
    image_artifacts,
    image_distance,
    rejected_share,
    tie_gap,
)
from swarmgen.errors import SwarmgenError
from swarmgen.processes import spawn_pool
from swarmgen.registry import Registry, load_registry
from swarmgen.tools.cheats import Cheat, cheats_for
from swarmgen.tools.cheats.build import make_cheater

logger = logging.getLogger(__name__)

MAX_FP = 1e-3
"""False-positive budget per comparison that thresholds are fit to."""
TEXT_DISTANCE_FLOOR = 0.01
"""Smallest ``max_distance``: logprobs from other hardware (GPU kernels, other BLAS)
move by about a percent; one machine's thread counts move them far less."""
GREEDY_MARGIN_FLOOR = 0.01
"""Smallest greedy tie margin, in nats (the core's default)."""
SAMPLED_TIE_FLOOR = 1e-4
"""Smallest sampled tie margin (the core's default): two runs compute each distribution
equal to about 1e-6, so honest runs part ways only far inside it."""

IMAGE_PROMPTS = (
    "a red circle on a white background",
    "a mountain lake at sunrise",
    "a portrait of an old sailor",
    "a bowl of green apples",
    "a city street at night in the rain",
    "a small blue house in a snowy field",
    "a yellow star above a black square",
    "a cat sleeping on a windowsill",
)
TEXT_ASKS = (
    "Name three things about {}.",
    "Write one sentence about {}.",
    "Describe {} in five words.",
    "Give me a tip about {}.",
    "Why do people like {}?",
    "What is the history of {}?",
    "Suggest a name for a shop about {}.",
    "Explain {} to a child.",
    "List two uses of {}.",
    "Write a short poem about {}.",
)
TEXT_TOPICS = (
    "the sea", "cats", "copper", "the moon", "bread", "rain", "computers", "trees",
    "coffee", "winter", "violins", "bees", "bicycles", "the desert", "libraries",
    "volcanoes", "rivers", "chess", "salt", "clocks",
)  # fmt: skip
TEXT_PROMPTS = tuple(ask.format(topic) for topic in TEXT_TOPICS for ask in TEXT_ASKS)
"""200 distinct chat prompts: a greedy answer depends on its prompt alone, so a bench of
greedy checks needs as many prompts as jobs to measure more than a handful of answers."""


class CalibrationError(SwarmgenError):
    """Calibration could not measure what it needs."""

    code = "calibration_error"


def image_prompts(model: str, count: int, seed: int) -> list[str]:
    """``count`` prompts: shapes captions for the shapes model, else a fixed list."""
    if model.startswith("shapes"):
        from swarmgen.tools.shapes.scenes import scene_at

        return [scene_at(seed, index).caption for index in range(count)]
    return [f"{IMAGE_PROMPTS[i % len(IMAGE_PROMPTS)]}, study {i}" for i in range(count)]


def image_jobs(offering: Offering, count: int, seed: int, steps: int = 20) -> list[Job]:
    """Image jobs with distinct prompts and seeds (64x64, one image each)."""
    prompts = image_prompts(offering.name, count, seed)
    return [
        Job(f"cal-{seed}-{i}", offering, ImageSpec(prompt=p, steps=steps, seed=seed * 100_003 + i))
        for i, p in enumerate(prompts)
    ]


def text_jobs(
    offering: Offering,
    count: int,
    seed: int,
    max_tokens: int = 20,
    prompts: Sequence[str] = TEXT_PROMPTS,
) -> list[Job]:
    """Chat jobs in pairs over ``prompts`` (:data:`TEXT_PROMPTS`): pair ``k`` asks prompt
    ``k``, first greedy, then sampled (T=0.8, top-p 0.95), so the greedy jobs of up to 200
    pairs each ask something else."""
    jobs = []
    for i in range(count):
        prompt = prompts[(i // 2) % len(prompts)]
        sampled = i % 2 == 1
        spec = TextSpec(
            messages=(Message("user", prompt),),
            max_tokens=max_tokens,
            temperature=0.8 if sampled else 0.0,
            top_p=0.95 if sampled else 1.0,
            seed=seed * 100_003 + i,
        )
        jobs.append(Job(f"cal-{seed}-{i}", offering, spec))
    return jobs


def run_batched(backend: Backend, jobs: Sequence[Job], batch: int) -> list[Output]:
    """Run ``jobs`` through ``backend`` in batches of at most ``batch``."""
    size = max(1, min(batch, backend.max_batch))
    outputs: list[Output] = []
    for start in range(0, len(jobs), size):
        outputs.extend(backend.run(jobs[start : start + size]))
    return outputs


def _child_run(
    registry_path: Path | None, offering: str, jobs: list[Job], cache_dir: Path, threads: int
) -> list[Output]:
    from swarmgen.backends.factory import make_backend

    parsed = Offering.parse(offering)
    entry = load_registry(registry_path, economics=False).entry(parsed)
    backend = make_backend(entry, parsed, cache_dir=cache_dir, threads=threads)
    return run_batched(backend, jobs, 1)


def run_in_subprocess(
    registry_path: Path | None,
    offering: Offering,
    jobs: Sequence[Job],
    cache_dir: Path,
    threads: int,
) -> list[Output]:
    """Run ``jobs`` honestly in a freshly spawned Python process (one job per batch)."""
    with spawn_pool(1) as pool:
        future = pool.submit(
            _child_run, registry_path, str(offering), list(jobs), cache_dir, threads
        )
        return future.result()


def artifacts_of(output: Output) -> tuple[ImageArtifacts | Failure, ...] | Failure:
    """What the coordinator derives from an image output (never a worker's own hashes)."""
    if not isinstance(output, ImageOutput):
        return Failure(FailureKind.MALFORMED, "not an image output")
    return tuple(image_artifacts(png) for png in output.images)


def image_distances(a: Sequence[Output], b: Sequence[Output]) -> list[ImageDistance]:
    """Distances between paired outputs' first images (failures count as maximal)."""
    worst = ImageDistance(**{name: 1.0 for name in ImageDistance.__dataclass_fields__})
    found = []
    for one, two in zip(a, b, strict=True):
        left, right = artifacts_of(one), artifacts_of(two)
        if isinstance(left, Failure) or isinstance(right, Failure):
            found.append(worst)
            continue
        x, y = left[0], right[0]
        if isinstance(x, ImageArtifacts) and isinstance(y, ImageArtifacts):
            found.append(image_distance(x, y))
        else:
            found.append(worst)
    return found


def compare_image_outputs(
    claimed: Output, reference: Output, expected: int, thresholds: ImageThresholds
) -> Comparison:
    """The coordinator's comparison of a claimed image output with a validator's."""
    return compare_image_sets(artifacts_of(claimed), artifacts_of(reference), expected, thresholds)


def transported(output: Output) -> Output:
    """``output`` as the coordinator receives it (text logprobs rounded to millionths)."""
    if isinstance(output, TextOutput):
        return TextOutput.from_canonical(output.canonical())
    return output


def check_text_claim(
    job: Job, claimed: Output, validator: Output, thresholds: TextThresholds
) -> Comparison:
    """The coordinator's comparison of a text claim with a validator's run of the same job."""
    sides = [
        cast(TextOutput, transported(side))
        if isinstance(side, TextOutput)
        else Failure(FailureKind.MALFORMED, "not text")
        for side in (claimed, validator)
    ]
    return check_text(sides[0], sides[1], _sampled(job), thresholds)


def _sampled(job: Job) -> bool:
    return isinstance(job.spec, TextSpec) and job.spec.sampled


def honest_tie(job: Job, claimed: TextOutput, validator: TextOutput) -> float | None:
    """Where two honest runs part ways, how close the validator's choice was to a tie
    (:func:`~swarmgen.core.verification.tie_gap`); ``None`` when they wrote the same tokens."""
    at = first_difference(claimed.token_ids, validator.token_ids)
    if at is None or at >= min(len(claimed.token_ids), len(validator.token_ids)):
        return None
    return tie_gap(claimed, validator, at, _sampled(job))


@dataclass
class Calibration:
    """What calibrating one offering measured and fit."""

    offering: Offering
    thresholds: dict[str, Any]
    honest_samples: int
    detection_by_cheat: dict[str, float] = field(default_factory=dict)
    honest_max: dict[str, float] = field(default_factory=dict)

    def table(self) -> dict[str, Any]:
        """The registry form: thresholds with their rates and per-cheat detection."""
        return {**self.thresholds, "detection_by_cheat": dict(self.detection_by_cheat)}


Progress = Callable[[str], None]


def calibrate_image(
    registry: Registry,
    offering: Offering,
    *,
    count: int,
    cache_dir: Path,
    seed: int = 1,
    max_fp: float = MAX_FP,
    progress: Progress = logger.info,
    steps: int = 20,
) -> Calibration:
    """Measure honest and cheat image distances for ``offering`` and fit thresholds."""
    from swarmgen.backends.factory import make_backend

    entry = registry.entry(offering)
    jobs = image_jobs(offering, count, seed, steps)
    reference = make_backend(entry, offering, cache_dir=cache_dir, threads=1)
    variant = make_backend(entry, offering, cache_dir=cache_dir, threads=2)
    progress(f"reference run: {count} jobs, 1 thread, batch 1")
    ref = run_batched(reference, jobs, 1)
    progress("honest run: 2 threads, batch 4")
    honest = image_distances(ref, run_batched(variant, jobs, 4))
    progress("honest run: separate process, 2 threads")
    other = run_in_subprocess(registry.path, offering, jobs, cache_dir, 2)
    honest += image_distances(ref, other)
    cheats: dict[Cheat, list[ImageDistance]] = {}
    for cheat in cheats_for(Kind.IMAGE, offering.precision):
        progress(f"cheat run: {cheat}")
        backend = make_cheater(
            registry, offering, cheat, cache_dir=cache_dir, threads=1, inner=reference, seed=11
        )
        cheats[cheat] = image_distances(ref, run_batched(backend, jobs, 1))
    fitted = fit_thresholds(honest, [d for ds in cheats.values() for d in ds], max_fp)
    detection = {str(cheat): rejected_share(found, fitted) for cheat, found in cheats.items()}
    honest_max = {
        name: max(getattr(d, name) for d in honest) for name in ImageDistance.__dataclass_fields__
    }
    return Calibration(offering, fitted.as_mapping(), len(honest), detection, honest_max)


def calibrate_text(
    registry: Registry,
    offering: Offering,
    *,
    count: int,
    cache_dir: Path,
    seed: int = 1,
    max_fp: float = MAX_FP,
    progress: Progress = logger.info,
) -> Calibration:
    """Measure honest and cheat logprob distances for ``offering`` and fit the text limits."""
    from swarmgen.backends.factory import make_backend

    entry = registry.entry(offering)
    jobs = text_jobs(offering, count, seed)
    progress(f"validator run: {count} jobs, 2 threads")
    validator = run_batched(make_backend(entry, offering, cache_dir=cache_dir, threads=2), jobs, 1)
    progress("honest claims: 1 thread, here and in a separate process")
    inner = make_backend(entry, offering, cache_dir=cache_dir, threads=1)
    local = run_batched(inner, jobs, 1)
    remote = run_in_subprocess(registry.path, offering, jobs, cache_dir, 1)
    loose = TextThresholds(max_distance=1.0, greedy_tie_margin=math.inf, sampled_tie_margin=1.0)
    honest_distance: list[float] = []
    greedy_ties: list[float] = []
    sampled_ties: list[float] = []
    for claims in (local, remote):
        for job, out, ref in zip(jobs, claims, validator, strict=True):
            honest_distance.append(check_text_claim(job, out, ref, loose).distance or 0.0)
            gap = honest_tie(job, cast(TextOutput, out), cast(TextOutput, ref))
            if gap is not None:
                (sampled_ties if _sampled(job) else greedy_ties).append(gap)
    margin = fit_threshold(greedy_ties or [0.0], [], max_fp, floor=GREEDY_MARGIN_FLOOR)
    ties = fit_threshold(sampled_ties or [0.0], [], max_fp, floor=SAMPLED_TIE_FLOOR)
    cheat_claims: dict[Cheat, list[Output]] = {}
    for cheat in cheats_for(Kind.TEXT, offering.precision):
        progress(f"cheat run: {cheat}")
        backend = make_cheater(
            registry, offering, cheat, cache_dir=cache_dir, threads=1, inner=inner, seed=11
        )
        cheat_claims[cheat] = run_batched(backend, jobs, 1)
    cheat_distance = [
        check_text_claim(job, out, ref, loose).distance or 0.0
        for outs in cheat_claims.values()
        for job, out, ref in zip(jobs, outs, validator, strict=True)
    ]
    distance = fit_threshold(honest_distance, cheat_distance, max_fp, floor=TEXT_DISTANCE_FLOOR)
    fitted = TextThresholds(
        max_distance=distance.value,
        greedy_tie_margin=margin.value,
        sampled_tie_margin=min(ties.value, MAX_CHOICE_MARGIN),
        false_positive=distance.false_positive,
        false_positive_bound=distance.false_positive_bound,
    )
    detection = {}
    for cheat, outs in cheat_claims.items():
        verdicts = [
            check_text_claim(j, o, r, fitted) for j, o, r in zip(jobs, outs, validator, strict=True)
        ]
        detection[str(cheat)] = sum(1 for v in verdicts if not v.passed) / len(verdicts)
    fitted_map = {**fitted.as_mapping(), "honest_samples": len(honest_distance)}
    fitted_map["detection"] = sum(detection.values()) / len(detection)
    honest_max = {
        "distance": max(honest_distance),
        "greedy_tie": max(greedy_ties or [0.0]),
        "sampled_tie": max(sampled_ties or [0.0]),
        "departures": float(len(greedy_ties) + len(sampled_ties)),
    }
    return Calibration(offering, fitted_map, len(honest_distance), detection, honest_max)


def calibrate(
    offering: Offering,
    *,
    registry_path: Path | None,
    cache_dir: Path,
    count: int,
    max_fp: float = MAX_FP,
    progress: Progress = logger.info,
) -> Calibration:
    """Calibrate ``offering`` from the registry at ``registry_path`` (shipped one if ``None``)."""
    registry = load_registry(registry_path, economics=False)
    if offering not in registry:
        raise CalibrationError(f"{offering} is not in the registry")
    # the offering's modality names its calibration routine (one of those above)
    run: Callable[..., Calibration] = load_object(
        modality(registry.entry(offering).kind).calibration
    )
    return run(
        registry, offering, count=count, cache_dir=cache_dir, max_fp=max_fp, progress=progress
    )
