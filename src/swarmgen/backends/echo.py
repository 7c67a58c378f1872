"""The echo backend: instant, deterministic stand-in outputs derived from a job's input digest.

It runs no model and imports no torch, so dispatch tests and benchmarks exercise the
whole worker/coordinator path at hundreds of jobs per second. Two workers given the
same job return byte-identical outputs; a different job gives different outputs.

Images are solid-colour PNGs of the requested size (cheap: they compress to a few
hundred bytes). Text is a few words from a fixed vocabulary with
top-5 logprobs shaped like a real model's (and, for sampled jobs, choice margins); it
also implements :class:`~swarmgen.backends.base.TextScorer` so the pre-fill cheat can
run on it.
"""

from __future__ import annotations

import hashlib
import struct
import time
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from swarmgen.backends.base import TopLogprobs, check_jobs
from swarmgen.core.jobs import ImageSpec, Job, TextSpec
from swarmgen.core.offerings import Kind, Offering
from swarmgen.core.outputs import ImageOutput, Output, TextOutput

if TYPE_CHECKING:
    from swarmgen.backends.plugins import BackendRequest

SIDE = 8
"""Default side of :func:`solid_png`, in pixels (echo jobs get their requested size)."""
EOS = 0
"""Token id that ends an echo text."""
VOCAB = (
    "<eos>",
    "echo",
    "swarm",
    "red",
    "green",
    "blue",
    "circle",
    "square",
    "token",
    "light",
    "stone",
    "river",
    "cloud",
    "seven",
    "quiet",
    "bright",
)
TOP_K = 5
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def solid_png(rgb: tuple[int, int, int], side: int = SIDE, height: int | None = None) -> bytes:
    """PNG bytes of a ``side`` x ``height`` (default square) image of one RGB colour."""
    height = side if height is None else height
    header = struct.pack(">IIBBBBB", side, height, 8, 2, 0, 0, 0)
    row = b"\x00" + bytes(rgb) * side
    pixels = zlib.compress(row * height, 6)
    return (
        _PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def _hash(key: str, label: str) -> bytes:
    return hashlib.sha256(f"{key}:{label}".encode()).digest()


def _length(key: str) -> int:
    return 4 + _hash(key, "length")[0] % 9


def _distribution(key: str, position: int) -> tuple[tuple[int, float], ...]:
    raw = _hash(key, f"position:{position}")
    first = EOS if position == _length(key) else 1 + raw[0] % (len(VOCAB) - 1)
    ids = [first]
    for byte in raw[1:]:
        candidate = 1 + byte % (len(VOCAB) - 1)
        if candidate not in ids:
            ids.append(candidate)
        if len(ids) == TOP_K:
            break
    logprob = -(1 + raw[-1] % 100) / 1000
    pairs = []
    for i, token in enumerate(ids):
        pairs.append((token, round(logprob, 6)))
        logprob -= (1 + raw[-2 - i] % 64) / 16
    return tuple(pairs)


def _margin(key: str, position: int) -> float:
    """A sampled echo choice's margin: well clear of a tie, as most honest draws are."""
    return round(0.001 + _hash(key, f"margin:{position}")[0] / 255 * 0.4, 6)


def echo_length(job: Job) -> int:
    """How many words the echo text has before its end token (4 to 12)."""
    return _length(job.input_digest())


def echo_distribution(job: Job, position: int) -> tuple[tuple[int, float], ...]:
    """The echo model's top-5 ``(token_id, logprob)`` at ``position``, most likely first.

    It depends on the job and the position only, never on the tokens before it.
    """
    return _distribution(job.input_digest(), position)


class EchoBackend:
    """A fake :class:`~swarmgen.backends.base.Backend` for one offering and one kind."""

    def __init__(
        self, offering: Offering, kind: Kind, max_batch: int = 32, delay_s: float = 0.0
    ) -> None:
        self.offering = offering
        self.kind = kind
        self.max_batch = max_batch
        self.delay_s = delay_s
        """Simulated compute time per :meth:`run` call, in seconds."""

    def load(self) -> None:
        """Nothing to load."""

    def run(self, jobs: Sequence[Job]) -> list[Output]:
        check_jobs(self.offering, self.kind, jobs, self.max_batch)
        if self.delay_s > 0:
            time.sleep(self.delay_s)
        return [self._run_one(job) for job in jobs]

    def _run_one(self, job: Job) -> Output:
        if isinstance(job.spec, ImageSpec):
            return self._image(job, job.spec)
        assert isinstance(job.spec, TextSpec)
        return self._text(job, job.spec)

    def _image(self, job: Job, spec: ImageSpec) -> ImageOutput:
        key = job.input_digest()
        images = []
        for i in range(spec.n):
            raw = _hash(key, f"image:{i}")
            images.append(solid_png((raw[0], raw[1], raw[2]), spec.width, spec.height))
        return ImageOutput(tuple(images))

    def _text(self, job: Job, spec: TextSpec) -> TextOutput:
        key = job.input_digest()
        count = min(_length(key) + 1, spec.max_tokens)
        top = tuple(_distribution(key, i) for i in range(count))
        tokens = tuple(position[0][0] for position in top)
        words = [VOCAB[t] for t in tokens if t != EOS]
        source = " ".join([m.content for m in spec.messages] or [spec.prompt or ""])
        margins = tuple(_margin(key, i) for i in range(count)) if spec.sampled else ()
        return TextOutput(
            text=" ".join(words),
            token_ids=tokens,
            top_logprobs=top,
            prompt_tokens=len(source.split()),
            finish_reason="stop" if tokens and tokens[-1] == EOS else "length",
            choice_margins=margins,
        )

    def score(self, job: Job, token_ids: Sequence[int]) -> TopLogprobs:
        """The echo distribution at each given position."""
        key = job.input_digest()
        return tuple(_distribution(key, i) for i in range(len(token_ids)))


def build(request: BackendRequest) -> EchoBackend:
    """The echo backend for a registry entry (``backend = "echo"``)."""
    return EchoBackend(
        request.offering,
        request.entry.kind,
        max_batch=int(request.option("max_batch", 32)),
        delay_s=float(request.option("delay_s", 0.0)),
    )
