"""A miniature training run: reproducible from its seed, saved as a loadable pipeline."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from swarmgen.tools.shapes.train import TrainConfig, train

pytestmark = pytest.mark.models

TINY = TrainConfig(images=24, vae_steps=2, vae_batch=4, unet_steps=3, unet_batch=4, warmup=1)


def _losses(folder: Path) -> list[float]:
    rows = folder.joinpath("loss.jsonl").read_text("utf-8").splitlines()
    return [json.loads(row)["loss"] for row in rows]


def test_same_seed_same_run_and_loadable_result(tmp_path: Path) -> None:
    from swarmgen.shapes import weights_digest
    from swarmgen.tools.shapes.pipeline import load_pipeline

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


def test_a_config_names_a_known_encoder_and_a_usable_weight() -> None:
    with pytest.raises(ValueError, match="text_encoder"):
        replace(TINY, text_encoder="t5")
    with pytest.raises(ValueError, match="place_weight"):
        replace(TINY, place_weight=-0.5)


def test_placement_asks_each_colour_word_where_its_shape_lies() -> None:
    import torch

    from swarmgen.tools.shapes.objectives import Placement
    from swarmgen.tools.shapes.scenes import Scene, Shape
    from swarmgen.tools.shapes.tokenizer import build_tokenizer
    from swarmgen.tools.shapes.train import _token_ids

    scene = Scene(
        (Shape("circle", "red", "small", 0, 63), Shape("square", "blue", "small", 63, 31)),
        "white",
        "left of",
    )
    tokenizer = build_tokenizer()
    ids = _token_ids(tokenizer, [scene.caption])
    placement = Placement(8, tokenizer, ids, [scene])

    words = tokenizer.convert_ids_to_tokens(ids[0][placement.named[0]].tolist())
    assert words == ["red</w>", "blue</w>"]  # and not the background's "white"
    centres = placement.centres[0][placement.named[0]].flatten().tolist()
    assert centres == pytest.approx([-1.0, 1.0, 1.0, -1 / 63])

    hidden = torch.zeros(1, ids.shape[1], 8)
    pick = torch.tensor([0])
    with torch.no_grad():
        placement.head.weight.zero_()
        placement.head.bias.zero_()
    # A head that always guesses the middle misses red by (1, 1) and blue by (1, 1/63).
    expected = 2.0 + 1.0 + (1 / 63) ** 2
    assert placement.loss(hidden, pick, torch.tensor([True])).item() == pytest.approx(expected)
    assert placement.loss(hidden, pick, torch.tensor([False])).item() == 0.0


def test_shape_cells_mark_where_a_shape_lies_in_latent_cells() -> None:
    import numpy as np

    from swarmgen.tools.shapes.objectives import shape_cells
    from swarmgen.tools.shapes.scenes import Scene, Shape

    scene = Scene((Shape("square", "red", "small", 10, 50),), "white", None)
    pixels = np.asarray(scene.render(), dtype=np.uint8)[None]
    cells = shape_cells(pixels, [scene], 16)[0, 0]

    assert cells.shape == (16, 16)
    assert set(cells.flatten().tolist()) == {0.0, 1.0}
    rows, cols = cells.nonzero(as_tuple=True)
    # The square spans pixels 4-16 across and 44-56 down: latent cells 1-4 and 11-14.
    assert (cols.min().item(), cols.max().item()) == (1, 4)
    assert (rows.min().item(), rows.max().item()) == (11, 14)
