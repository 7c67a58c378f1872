"""What a backend returns for a job, and the digests a receipt signs over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swarmgen.core.canonical import digest, sha256_hex
from swarmgen.core.offerings import Kind
from swarmgen.errors import FieldProblem

LOGPROB_SCALE = 1_000_000
"""Logprobs and choice margins are signed as integers in millionths (floats never are)."""
MAX_CHOICE_MARGIN = 0.5
"""A choice margin is at most half its token's probability interval, which is at most 1."""


@dataclass(frozen=True)
class ImageOutput:
    """PNG bytes, one per requested image."""

    images: tuple[bytes, ...]

    kind = Kind.IMAGE

    def canonical(self) -> dict[str, Any]:
        return {"kind": "image", "images": [sha256_hex(png) for png in self.images]}

    def digest(self) -> str:
        return digest(self.canonical())


@dataclass(frozen=True)
class TextOutput:
    """Generated text with its tokens and, per generated position, the top-k logprobs.

    ``top_logprobs[i]`` lists ``(token_id, logprob)`` pairs, most likely first, for the
    distribution the i-th generated token was drawn from.

    ``choice_margins`` (sampled jobs only, one per token) says how close each draw came
    to picking another token: the probability mass between the draw and the nearer edge
    of the chosen token's interval. Two honest runs can part ways only where it is
    within rounding of zero, which is how a check tells a tie from a different choice.
    """

    text: str
    token_ids: tuple[int, ...]
    top_logprobs: tuple[tuple[tuple[int, float], ...], ...]
    prompt_tokens: int
    finish_reason: str = "length"
    choice_margins: tuple[float, ...] = ()

    kind = Kind.TEXT

    def canonical(self) -> dict[str, Any]:
        data: dict[str, Any] = {
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
        if self.choice_margins:
            data["choice_margins"] = [round(m * LOGPROB_SCALE) for m in self.choice_margins]
        return data

    def margins_problem(self, sampled: bool) -> FieldProblem | None:
        """Why :attr:`choice_margins` do not fit a job (sampled or greedy), or ``None``."""
        field = "results.text.choice_margins"
        if sampled and len(self.choice_margins) != len(self.token_ids):
            return FieldProblem(field, "need one per token of a sampled job")
        if not sampled and self.choice_margins:
            return FieldProblem(field, "must be empty for a greedy job")
        if any(not 0.0 <= margin <= MAX_CHOICE_MARGIN for margin in self.choice_margins):
            return FieldProblem(field, f"must lie in [0, {MAX_CHOICE_MARGIN}]", MAX_CHOICE_MARGIN)
        return None

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
            choice_margins=tuple(int(m) / LOGPROB_SCALE for m in data.get("choice_margins", ())),
        )

    def digest(self) -> str:
        return digest(self.canonical())


Output = ImageOutput | TextOutput
