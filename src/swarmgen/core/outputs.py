"""What a backend returns for a job, and the digests a receipt signs over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swarmgen.core.canonical import digest, sha256_hex

LOGPROB_SCALE = 1_000_000
"""Logprobs are signed as integers in millionths (floats are never signed)."""


@dataclass(frozen=True)
class ImageOutput:
    """PNG bytes, one per requested image."""

    images: tuple[bytes, ...]

    def canonical(self) -> dict[str, Any]:
        return {"kind": "image", "images": [sha256_hex(png) for png in self.images]}

    def digest(self) -> str:
        return digest(self.canonical())


@dataclass(frozen=True)
class TextOutput:
    """Generated text with its tokens and, per generated position, the top-k logprobs.

    ``top_logprobs[i]`` lists ``(token_id, logprob)`` pairs, most likely first, for the
    distribution the i-th generated token was drawn from.
    """

    text: str
    token_ids: tuple[int, ...]
    top_logprobs: tuple[tuple[tuple[int, float], ...], ...]
    prompt_tokens: int
    finish_reason: str = "length"

    def canonical(self) -> dict[str, Any]:
        return {
            "kind": "text",
            "text": self.text,
            "token_ids": list(self.token_ids),
            "top_logprobs": [
                [[tid, round(lp * LOGPROB_SCALE)] for tid, lp in position]
                for position in self.top_logprobs
            ],
            "prompt_tokens": self.prompt_tokens,
            "finish_reason": self.finish_reason,
        }

    @classmethod
    def from_canonical(cls, data: dict[str, Any]) -> TextOutput:
        return cls(
            text=data["text"],
            token_ids=tuple(int(t) for t in data["token_ids"]),
            top_logprobs=tuple(
                tuple((int(tid), int(lp) / LOGPROB_SCALE) for tid, lp in position)
                for position in data["top_logprobs"]
            ),
            prompt_tokens=int(data["prompt_tokens"]),
            finish_reason=data.get("finish_reason", "length"),
        )

    def digest(self) -> str:
        return digest(self.canonical())


Output = ImageOutput | TextOutput
