"""Procedural 64x64 scenes of simple shapes, their captions, and a caption parser.

Every scene is a pure function of ``(seed, index)``, so a data set is reproducible
from its seed alone. Captions follow one small grammar::

    a large red circle on a white background
    a small red circle above a medium blue square on a white background
    a large red circle, a small blue square and a small green star on a white background

The first-named shape is the *main* shape. In three-shape scenes it is always the
large one and the others small, so an image analyser can find it by area.

Prompts are split by a hash of their caption: held-out captions never occur in
training data, so evaluation measures generalisation to unseen combinations.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageDraw

from swarmgen.errors import SwarmgenError

SIZE = 64
"""Image side in pixels."""

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (250, 140, 0),
    "yellow": (250, 225, 30),
    "green": (30, 160, 50),
    "blue": (30, 70, 220),
    "purple": (130, 40, 170),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
    "gray": (128, 128, 128),
}
"""Named colours; shapes and backgrounds draw from the same palette."""

SHAPES = ("circle", "square", "triangle", "star", "diamond")
SIZES: dict[str, int] = {"small": 6, "medium": 9, "large": 13}
"""Half-extent in pixels of each size word."""
RELATIONS = ("above", "below", "left of", "right of")
HELD_OUT_BUCKETS = 10
"""One caption in this many (by hash) is held out of training."""
_MARGIN = 2
_GAP = 3


class CaptionError(SwarmgenError):
    """A caption does not follow the shapes grammar."""

    code = "bad_caption"
    status = 422


@dataclass(frozen=True)
class Shape:
    """One shape as a caption names it, with where it is drawn."""

    kind: str
    color: str
    size: str
    x: int = 0
    y: int = 0

    @property
    def radius(self) -> int:
        return SIZES[self.size]

    def words(self) -> str:
        return f"a {self.size} {self.color} {self.kind}"


@dataclass(frozen=True)
class Scene:
    """Shapes (main shape first) on a background; ``relation`` links two shapes."""

    shapes: tuple[Shape, ...]
    background: str
    relation: str | None = None

    @property
    def caption(self) -> str:
        first = self.shapes[0].words()
        if len(self.shapes) == 1:
            body = first
        elif len(self.shapes) == 2:
            body = f"{first} {self.relation} {self.shapes[1].words()}"
        else:
            rest = " and ".join(s.words() for s in self.shapes[2:])
            body = f"{first}, {self.shapes[1].words()} and {rest}"
        article = "an" if self.background[0] in "aeiou" else "a"
        return f"{body} on {article} {self.background} background"

    def render(self) -> Image.Image:
        """Draw the scene as a 64x64 RGB image with flat colours."""
        image = Image.new("RGB", (SIZE, SIZE), COLORS[self.background])
        draw = ImageDraw.Draw(image)
        for shape in self.shapes:
            _draw(draw, shape)
        return image


def _draw(draw: ImageDraw.ImageDraw, shape: Shape) -> None:
    x, y, r, fill = shape.x, shape.y, shape.radius, COLORS[shape.color]
    if shape.kind == "circle":
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    elif shape.kind == "square":
        draw.rectangle((x - r, y - r, x + r, y + r), fill=fill)
    elif shape.kind == "triangle":
        draw.polygon([(x, y - r), (x + r, y + r), (x - r, y + r)], fill=fill)
    elif shape.kind == "diamond":
        draw.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill=fill)
    else:
        points = []
        for i in range(10):
            rho = r if i % 2 == 0 else r * 0.45
            angle = -math.pi / 2 + i * math.pi / 5
            points.append((x + rho * math.cos(angle), y + rho * math.sin(angle)))
        draw.polygon(points, fill=fill)


def is_held_out(caption: str) -> bool:
    """Whether ``caption`` belongs to the evaluation split (never trained on)."""
    digest = hashlib.sha256(caption.encode("utf-8")).digest()
    return digest[0] % HELD_OUT_BUCKETS == 0


def _overlaps(a: Shape, b: Shape) -> bool:
    reach = a.radius + b.radius + _GAP
    return abs(a.x - b.x) < reach and abs(a.y - b.y) < reach


_MIDDLE = (SIZE - 1) / 2


def _satisfies(relation: str, a: Shape, b: Shape) -> bool:
    """``a`` lies wholly on the named side of ``b``, and the two centres lie in opposite
    halves of the canvas, ``a``'s in the named one.

    The halves make a relation say where each colour goes, not only how the two shapes
    sit: a model that has not learnt to bind a colour to its place relative to another
    shape (0003: two-shape scenes at chance in every run without this) can still learn
    "red in the top half".
    """
    if relation == "above":
        return a.y + a.radius < b.y - b.radius and a.y < _MIDDLE < b.y
    if relation == "below":
        return a.y - a.radius > b.y + b.radius and a.y > _MIDDLE > b.y
    if relation == "left of":
        return a.x + a.radius < b.x - b.radius and a.x < _MIDDLE < b.x
    return a.x - a.radius > b.x + b.radius and a.x > _MIDDLE > b.x


def _place(rng: random.Random, shape: Shape) -> Shape:
    low, high = shape.radius + _MARGIN, SIZE - 1 - shape.radius - _MARGIN
    return Shape(
        shape.kind, shape.color, shape.size, rng.randint(low, high), rng.randint(low, high)
    )


def _layout(rng: random.Random, shapes: list[Shape], relation: str | None) -> tuple[Shape, ...]:
    for _ in range(1000):
        placed = [_place(rng, s) for s in shapes]
        pairs = [(a, b) for i, a in enumerate(placed) for b in placed[i + 1 :]]
        if any(_overlaps(a, b) for a, b in pairs):
            continue
        if relation is not None and not _satisfies(relation, placed[0], placed[1]):
            continue
        return tuple(placed)
    raise CaptionError("no layout found")  # pragma: no cover - sizes always fit


def random_scene(rng: random.Random) -> Scene:
    """Draw one scene: 1-3 shapes in distinct colours, none the background's."""
    count = rng.choice((1, 1, 2, 2, 3))
    background = rng.choice(list(COLORS))
    colors = rng.sample([c for c in COLORS if c != background], count)
    kinds = [rng.choice(SHAPES) for _ in range(count)]
    if count == 3:
        sizes = ["large", "small", "small"]
    else:
        sizes = [rng.choice(list(SIZES)) for _ in range(count)]
    if count == 2 and sizes == ["large", "large"]:
        sizes[1] = "medium"
    relation = rng.choice(RELATIONS) if count == 2 else None
    shapes = [Shape(k, c, s) for k, c, s in zip(kinds, colors, sizes, strict=True)]
    return Scene(_layout(rng, shapes, relation), background, relation)


def scene_at(seed: int, index: int) -> Scene:
    """The ``index``-th raw scene of stream ``seed`` (both splits mixed)."""
    return random_scene(random.Random(f"shapes-64:{seed}:{index}"))


def scenes(seed: int, count: int, *, held_out: bool) -> Iterator[Scene]:
    """``count`` scenes of one split: training (``held_out=False``) or evaluation."""
    index = produced = 0
    while produced < count:
        scene = scene_at(seed, index)
        index += 1
        if is_held_out(scene.caption) == held_out:
            produced += 1
            yield scene


_COLOR = "|".join(COLORS)
_SHAPE = "|".join(SHAPES)
_SIZE = "|".join(SIZES)
_ONE = rf"an? ({_SIZE}) ({_COLOR}) ({_SHAPE})"
_STRIP = re.compile(rf"^(?P<body>.+) on an? (?P<bg>{_COLOR}) background$")
_RELATION = re.compile(rf"^{_ONE} ({'|'.join(RELATIONS)}) {_ONE}$")
_SINGLE = re.compile(rf"^{_ONE}$")
_LIST = re.compile(rf"^{_ONE}, {_ONE}((?: and {_ONE})+)$")
_ITEM = re.compile(_ONE)


def parse_caption(text: str) -> Scene:
    """Parse a caption back into a :class:`Scene` (positions are zero).

    Raises :class:`CaptionError` when ``text`` is outside the grammar.
    """
    normal = " ".join(text.lower().replace(" ,", ",").split())
    outer = _STRIP.match(normal)
    if outer is None:
        raise CaptionError(f"not a shapes caption: {text!r}")
    body, background = outer["body"], outer["bg"]
    if match := _SINGLE.match(body):
        return Scene((Shape(match[3], match[2], match[1]),), background)
    if match := _RELATION.match(body):
        first = Shape(match[3], match[2], match[1])
        second = Shape(match[7], match[6], match[5])
        return Scene((first, second), background, match[4])
    if match := _LIST.match(body):
        shapes = [Shape(kind, color, size) for size, color, kind in _ITEM.findall(body)]
        return Scene(tuple(shapes), background)
    raise CaptionError(f"not a shapes caption: {text!r}")
