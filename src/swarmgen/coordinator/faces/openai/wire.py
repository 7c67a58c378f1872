"""What the OpenAI face reads: the request bodies of ``/v1``, bounded like the native ones.

Fields follow OpenAI's API reference; what swarmgen cannot honour is refused with a
400 naming the parameter (``n`` above 1 for text, ``top_logprobs`` above 5), never
silently ignored. ``user`` is accepted and ignored, as it only tags requests at OpenAI.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from swarmgen.core.jobs import LIMITS, SEED_MAX
from swarmgen.protocol.bounds import PLAIN

STRICT = ConfigDict(extra="forbid")
MAX_TOP_LOGPROBS = 5
"""Most alternatives per position: what a worker reports (the registry's ``top_k``)."""
MAX_STOPS = 4
Text = Annotated[str, Field(max_length=LIMITS.prompt_chars, pattern=PLAIN)]
Model = Annotated[str, Field(min_length=1, max_length=80, pattern=PLAIN)]
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
Tokens = Annotated[int, Field(ge=1, le=LIMITS.max_tokens)]
SIZE = re.compile(r"^([0-9]{1,4})x([0-9]{1,4})$")


class TextPart(BaseModel):
    model_config = STRICT

    type: Literal["text"]
    text: Text


class ChatMessage(BaseModel):
    """A chat message; ``developer`` is OpenAI's newer name for ``system``."""

    model_config = STRICT

    role: Literal["system", "developer", "user", "assistant"]
    content: Text | list[TextPart] = Field(
        description="Text, or text parts (images and audio are not accepted)."
    )
    name: str | None = Field(None, max_length=64, pattern=PLAIN)

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    model_config = STRICT

    include_usage: bool = False


class Sampling(BaseModel):
    """Settings chat and completions share."""

    model_config = STRICT

    model: Model
    temperature: float = Field(1.0, ge=0.0, le=LIMITS.max_temperature, allow_inf_nan=False)
    top_p: float = Field(1.0, gt=0.0, le=1.0, allow_inf_nan=False)
    seed: Seed | None = None
    n: Literal[1] = Field(1, description="Only one choice per request.")
    stop: Text | list[Text] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=256, pattern=PLAIN)

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > MAX_STOPS:
            raise ValueError(f"at most {MAX_STOPS} stop sequences")
        return value

    def stops(self) -> list[str]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return [s for s in stops if s]


class ChatIn(Sampling):
    messages: list[ChatMessage] = Field(min_length=1, max_length=LIMITS.max_messages)
    max_tokens: Tokens | None = None
    max_completion_tokens: Tokens | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)

    @model_validator(mode="after")
    def _logprobs(self) -> ChatIn:
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs: true")
        return self

    def tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionIn(Sampling):
    prompt: Annotated[str, Field(min_length=1, max_length=LIMITS.prompt_chars, pattern=PLAIN)]
    max_tokens: Tokens | None = None
    logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    echo: Literal[False] = Field(False, description="Echoing the prompt is not supported.")


class ImageIn(BaseModel):
    """OpenAI's image request, with swarmgen's ``seed``, ``steps``, ``negative_prompt``
    and ``guidance_scale`` as extensions (``extra_body`` in the openai client)."""

    model_config = STRICT

    prompt: Annotated[str, Field(min_length=1, max_length=LIMITS.prompt_chars, pattern=PLAIN)]
    model: Model | None = None
    n: int = Field(1, ge=1, le=LIMITS.max_images)
    size: str = Field("64x64", max_length=9, description="WIDTHxHEIGHT in pixels.")
    response_format: Literal["b64_json", "url"] = "b64_json"
    seed: Seed | None = None
    steps: int = Field(20, ge=1, le=LIMITS.max_steps)
    negative_prompt: Text = ""
    guidance_scale: float = Field(7.5, ge=0.0, le=LIMITS.max_guidance, allow_inf_nan=False)
    user: str | None = Field(None, max_length=256, pattern=PLAIN)

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        match = SIZE.match(value)
        if not match:
            raise ValueError("must be WIDTHxHEIGHT, e.g. 512x512")
        for side in map(int, match.groups()):
            if not LIMITS.min_side <= side <= LIMITS.max_side:
                raise ValueError(f"sides must lie in [{LIMITS.min_side}, {LIMITS.max_side}]")
            if side % LIMITS.side_multiple:
                raise ValueError(f"sides must be multiples of {LIMITS.side_multiple}")
        return value

    def sides(self) -> tuple[int, int]:
        width, height = self.size.split("x")
        return int(width), int(height)
