"""Reading colours, counts and the main shape back from images."""

from __future__ import annotations

import numpy as np
from PIL import Image

from swarmgen.tools.shapes.analysis import judge, label_colors, read_image
from swarmgen.tools.shapes.scenes import COLORS, Scene, Shape, parse_caption, scenes


def test_ground_truth_renders_are_judged_correct() -> None:
    for scene in scenes(5, 60, held_out=True):
        verdict = judge(scene.render(), parse_caption(scene.caption))
        assert verdict.color and verdict.background and verdict.count, scene.caption


def test_wrong_caption_is_caught() -> None:
    drawn = Scene((Shape("circle", "red", "large", 32, 32),), "white")
    claimed = parse_caption("a large blue circle on a black background")
    verdict = judge(drawn.render(), claimed)
    assert verdict.main_color == "red"
    assert not verdict.color
    assert not verdict.background
    assert verdict.count


def test_relation_picks_the_main_shape() -> None:
    top = Shape("square", "green", "small", 32, 10)
    bottom = Shape("square", "yellow", "large", 32, 45)
    image = Scene((top, bottom), "black", "above").render()
    assert judge(
        image,
        parse_caption("a small green square above a large yellow square on a black background"),
    ).color
    assert judge(
        image,
        parse_caption("a large yellow square below a small green square on a black background"),
    ).color


def test_noisy_colours_snap_to_the_nearest_name() -> None:
    rng = np.random.default_rng(0)
    base = np.array(COLORS["purple"], dtype=np.float32)
    noisy = np.clip(base + rng.normal(0, 12, size=(8, 8, 3)), 0, 255).astype(np.uint8)
    assert (label_colors(noisy) == list(COLORS).index("purple")).all()


def test_specks_do_not_count_as_shapes() -> None:
    pixels = np.full((64, 64, 3), COLORS["white"], dtype=np.uint8)
    pixels[10:12, 10:12] = COLORS["red"]
    pixels[30:40, 30:40] = COLORS["blue"]
    reading = read_image(Image.fromarray(pixels))
    assert reading.background == "white"
    assert [b.color for b in reading.blobs] == ["blue"]
