"""Job specifications, their documented limits, and their canonical form.

Specs are frozen dataclasses; the coordinator's wire models take their bounds from
:data:`LIMITS`, so a limit is written once. A spec's canonical dict is what gets
digested and signed: the guidance scale travels as decimal text because floats are
never signed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from swarmgen.core.canonical import digest
from swarmgen.core.offerings import Kind, Offering

SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class Limits:
    """Bounds every job must respect, whatever model it asks for."""

    prompt_chars: int = 2000
    """Longest prompt or negative prompt, in characters."""
    min_side: int = 64
    """Smallest image width or height, in pixels."""
    max_side: int = 1024
    """Largest image width or height, in pixels."""
    side_multiple: int = 8
    """Image sides must be multiples of this (the VAE's downscale factor)."""
    max_steps: int = 50
    """Most denoising steps per image."""
    max_guidance: float = 20.0
    """Largest classifier-free guidance scale."""
    max_images: int = 4
    """Most images per image job (``n``)."""
    max_messages: int = 32
    """Most chat messages in a text job."""
    max_tokens: int = 512
    """Most tokens a text job may generate."""
    max_temperature: float = 2.0
    """Highest sampling temperature."""
    max_body_bytes: int = 64 * 1024
    """Largest request body the coordinator reads, in bytes."""


LIMITS = Limits()


class JobState(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    """Waiting for a worker."""
    LEASED = "leased"
    """Handed to a worker under a lease that expires."""
    COMPLETED = "completed"
    """A worker returned a result that the coordinator accepted."""
    FAILED = "failed"
    """Could not be completed (e.g. too many lease expiries)."""
    CANCELLED = "cancelled"
    """Withdrawn by its requester before completion."""

    @property
    def final(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


def guidance_text(value: float) -> str:
    """The canonical decimal text of a guidance scale (at most two decimals)."""
    return f"{round(value, 2):.2f}"


@dataclass(frozen=True)
class ImageSpec:
    """A text-to-image request."""

    prompt: str
    negative_prompt: str = ""
    width: int = 64
    height: int = 64
    steps: int = 20
    guidance: float = 7.5
    seed: int | None = None
    n: int = 1

    kind = Kind.IMAGE

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def work_units(self) -> int:
        """Size of the job: pixels × steps × images (drives lease TTL and price)."""
        return self.pixels * self.steps * self.n

    def canonical(self) -> dict[str, Any]:
        return {
            "kind": "image",
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "width": self.width,
            "height": self.height,
            "steps": self.steps,
            "guidance": guidance_text(self.guidance),
            "seed": self.seed,
            "n": self.n,
        }

    @classmethod
    def from_canonical(cls, data: dict[str, Any]) -> ImageSpec:
        return cls(
            prompt=data["prompt"],
            negative_prompt=data.get("negative_prompt", ""),
            width=int(data["width"]),
            height=int(data["height"]),
            steps=int(data["steps"]),
            guidance=float(data["guidance"]),
            seed=data.get("seed"),
            n=int(data.get("n", 1)),
        )


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: str
    content: str


@dataclass(frozen=True)
class TextSpec:
    """A text-generation request: chat messages (or a bare prompt) and sampling settings.

    ``temperature == 0`` means greedy decoding. Temperature and top-p are kept as
    hundredths in the canonical form.
    """

    messages: tuple[Message, ...] = field(default_factory=tuple)
    prompt: str | None = None
    max_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None

    kind = Kind.TEXT

    @property
    def sampled(self) -> bool:
        """Whether tokens are drawn at random (temperature above zero), not picked greedily."""
        return self.temperature > 0

    def work_units(self) -> int:
        """Size of the job: characters of input / 4 (a token estimate) + max_tokens."""
        chars = len(self.prompt or "") + sum(len(m.content) for m in self.messages)
        return chars // 4 + self.max_tokens

    def canonical(self) -> dict[str, Any]:
        return {
            "kind": "text",
            "messages": [{"role": m.role, "content": m.content} for m in self.messages],
            "prompt": self.prompt,
            "max_tokens": self.max_tokens,
            "temperature": round(self.temperature * 100),
            "top_p": round(self.top_p * 100),
            "seed": self.seed,
        }

    @classmethod
    def from_canonical(cls, data: dict[str, Any]) -> TextSpec:
        return cls(
            messages=tuple(Message(m["role"], m["content"]) for m in data.get("messages", [])),
            prompt=data.get("prompt"),
            max_tokens=int(data["max_tokens"]),
            temperature=int(data["temperature"]) / 100,
            top_p=int(data["top_p"]) / 100,
            seed=data.get("seed"),
        )


Spec = ImageSpec | TextSpec


def spec_from_canonical(data: dict[str, Any]) -> Spec:
    """Rebuild a spec from its canonical dict."""
    if data.get("kind") == "image":
        return ImageSpec.from_canonical(data)
    if data.get("kind") == "text":
        return TextSpec.from_canonical(data)
    raise ValueError(f"unknown job kind {data.get('kind')!r}")


@dataclass(frozen=True)
class Job:
    """What a worker is asked to run: an id, an offering and a spec with a fixed seed."""

    id: str
    offering: Offering
    spec: Spec
    sampling_id: str | None = None
    """The id that seeds sampled text (:func:`text_sampling_seed`); ``None`` means :attr:`id`.

    The coordinator gives every text job a random one at submission and its validation
    jobs the same, so a validator draws exactly the claimant's choices while its job
    looks like any other (its own id would give it away).
    """

    @property
    def kind(self) -> Kind:
        return self.spec.kind

    @property
    def sampling_key(self) -> str:
        return self.sampling_id or self.id

    def input_digest(self) -> str:
        """Digest of what the requester asked for: the offering and the spec.

        The sampling id is left out: the coordinator draws it and keeps it with the job,
        and a validation job must carry its original's digest.
        """
        return digest({"offering": str(self.offering), "spec": self.spec.canonical()})


def text_sampling_seed(seed: int, sampling_id: str) -> int:
    """The RNG seed for sampled text: ``H(seed, sampling id)`` as a 63-bit integer.

    A validator given the same seed and sampling id draws the same token choices.
    """
    return int(digest({"seed": seed, "job": sampling_id})[:15], 16)
