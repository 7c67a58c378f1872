"""A miniature training run: reproducible from its seed, saved as a loadable pipeline."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from swarmgen.shapes.train import TrainConfig, train

pytestmark = pytest.mark.models

TINY = TrainConfig(images=24, vae_steps=2, vae_batch=4, unet_steps=3, unet_batch=4, warmup=1)


def _losses(folder: Path) -> list[float]:
    rows = folder.joinpath("loss.jsonl").read_text("utf-8").splitlines()
    return [json.loads(row)["loss"] for row in rows]


def test_same_seed_same_run_and_loadable_result(tmp_path: Path) -> None:
    from swarmgen.shapes import weights_digest
    from swarmgen.shapes.pipeline import load_pipeline

    phases: list[str] = []
    first = train(TINY, tmp_path / "a", lambda phase, *_: phases.append(phase))
    second = train(TINY, tmp_path / "b")
    other = train(replace(TINY, seed=1), tmp_path / "c")

    assert phases == ["vae"] * TINY.vae_steps + ["unet"] * TINY.unet_steps
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
    assert weights_digest(first.folder) == weights_digest(second.folder)
    assert weights_digest(first.folder) != weights_digest(other.folder)
    pipe = load_pipeline(first.folder)
    assert pipe.vae.config.scaling_factor > 0


def test_replicas_split_the_batch_of_a_single_process_run(tmp_path: Path) -> None:
    """Two replicas draw the same global batches as one process and average their halves'
    gradients, so the two runs differ only by floating-point rounding."""
    assert TINY.processes == 2
    alone = _losses(train(replace(TINY, processes=1), tmp_path / "alone").folder.parent)
    shared = _losses(train(TINY, tmp_path / "shared").folder.parent)
    assert len(alone) == len(shared) == TINY.vae_steps + TINY.unet_steps
    assert shared == pytest.approx(alone, rel=1e-4)


def test_batches_must_split_evenly_over_the_replicas() -> None:
    with pytest.raises(ValueError, match="unet_batch"):
        replace(TINY, processes=3, vae_batch=3)
    with pytest.raises(ValueError, match="at least 1"):
        replace(TINY, processes=0)
