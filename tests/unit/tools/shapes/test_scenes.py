"""The procedural scene stream, its captions and the caption parser."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmgen.tools.shapes.scenes import (
    COLORS,
    SIZE,
    CaptionError,
    Shape,
    is_held_out,
    parse_caption,
    scene_at,
    scenes,
)


def test_scene_stream_is_a_function_of_seed_and_index() -> None:
    first = [scene_at(7, i) for i in range(20)]
    again = [scene_at(7, i) for i in range(20)]
    other = [scene_at(8, i) for i in range(20)]
    assert first == again
    assert first != other
    assert np.array_equal(np.asarray(first[3].render()), np.asarray(again[3].render()))


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32), index=st.integers(0, 10**6))
def test_caption_parses_back_to_its_scene(seed: int, index: int) -> None:
    scene = scene_at(seed, index)
    parsed = parse_caption(scene.caption)
    assert parsed.background == scene.background
    assert parsed.relation == scene.relation
    assert [(s.kind, s.color, s.size) for s in parsed.shapes] == [
        (s.kind, s.color, s.size) for s in scene.shapes
    ]


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32), index=st.integers(0, 10**6))
def test_scene_respects_its_invariants(seed: int, index: int) -> None:
    scene = scene_at(seed, index)
    colors = [s.color for s in scene.shapes]
    assert 1 <= len(scene.shapes) <= 3
    assert len(set(colors)) == len(colors)
    assert scene.background not in colors
    for shape in scene.shapes:
        assert shape.radius <= shape.x < SIZE - shape.radius
        assert shape.radius <= shape.y < SIZE - shape.radius
    if len(scene.shapes) == 3:
        assert [s.size for s in scene.shapes] == ["large", "small", "small"]
    if scene.relation is not None:
        _assert_laid_out_as_named(scene.relation, *scene.shapes)


def _assert_laid_out_as_named(relation: str, first: Shape, second: Shape) -> None:
    """The first shape lies wholly on the named side of the second, its centre in the
    named half of the canvas and the second's in the other."""
    middle = (SIZE - 1) / 2
    vertical = relation in ("above", "below")
    a, b = (first.y, second.y) if vertical else (first.x, second.x)
    if relation in ("below", "right of"):
        a, b, middle = -a, -b, -middle
    assert a + first.radius < b - second.radius
    assert a < middle < b


def test_render_paints_the_named_colours() -> None:
    scene = scene_at(3, 0)
    pixels = np.asarray(scene.render()).reshape(-1, 3)
    present = {tuple(int(v) for v in p) for p in np.unique(pixels, axis=0)}
    expected = {COLORS[scene.background], *(COLORS[s.color] for s in scene.shapes)}
    assert present == expected


def test_splits_are_disjoint_and_nonempty() -> None:
    train = {s.caption for s in scenes(0, 400, held_out=False)}
    held = {s.caption for s in scenes(0, 60, held_out=True)}
    assert len(held) > 1
    assert not train & held
    assert all(is_held_out(c) for c in held)
    assert not any(is_held_out(c) for c in train)


def test_parser_accepts_loose_spacing_and_case() -> None:
    scene = parse_caption("A Small RED circle  above a large blue star on an orange background")
    assert scene.relation == "above"
    assert [s.color for s in scene.shapes] == ["red", "blue"]
    assert scene.background == "orange"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a red circle on a white background",
        "a small pink circle on a white background",
        "a small red circle near a small blue star on a white background",
        "a small red circle",
    ],
)
def test_parser_refuses_text_outside_the_grammar(text: str) -> None:
    with pytest.raises(CaptionError):
        parse_caption(text)
