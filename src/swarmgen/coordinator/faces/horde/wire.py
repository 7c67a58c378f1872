"""What the Horde face reads: AI Horde's request bodies, bounded like the native ones.

Every field of AI Horde's ``GenerationInputStable`` and ``GenerationInputKobold`` (as
``horde_sdk`` 0.18 models them) is known here; anything else is refused with a 400
naming it. Fields fall in three groups, listed in decision record 0019:

- *honoured*: the prompt (``positive ### negative``), ``width``, ``height``, ``steps``,
  ``cfg_scale``, ``seed``, ``n``, ``models``, ``dry_run``; for text ``max_length``,
  ``temperature``, ``top_p``;
- *accepted and ignored*: what only tunes how a worker samples or which workers Horde
  would pick (``sampler_name``, ``karras``, ``clip_skip``, ``rep_pen``, ``top_k``,
  ``trusted_workers``, ``nsfw``, ``r2``, ``stop_sequence``...): the registry pins the
  sampler, since verification replays it, every swarmgen worker is checked, and the
  face keeps no state between a request and its status;
- *refused unless left at Horde's default*: what asks for a different product
  (``source_image``, ``loras``, ``post_processing``, ``hires_fix``, ``tiling``,
  ``workers``, ``webhook``, ``n`` > 1 for text...), which a worker here cannot deliver.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from swarmgen.core.jobs import LIMITS, SEED_MAX
from swarmgen.protocol.bounds import PLAIN

STRICT = ConfigDict(extra="forbid")
NEGATIVE = "###"
"""AI Horde's separator between a prompt and its negative prompt."""
MAX_MODELS = 32
MAX_STOPS = 8
DEFAULT_STEPS = 30
"""AI Horde's default when ``steps`` is left out."""
DEFAULT_MAX_LENGTH = 80
"""AI Horde's default ``max_length`` for text."""

Name = Annotated[str, Field(min_length=1, max_length=80, pattern=PLAIN)]
Short = Annotated[str, Field(max_length=64, pattern=PLAIN)]
Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Prompt = Annotated[str, Field(min_length=1, max_length=LIMITS.prompt_chars, pattern=PLAIN)]
Side = Annotated[
    int, Field(ge=LIMITS.min_side, le=LIMITS.max_side, multiple_of=LIMITS.side_multiple)
]
Unused = Annotated[list[Any] | None, Field(None, max_length=0, description="Not supported.")]


def _no(value: object, default: object, what: str) -> object:
    if value not in (None, default):
        raise ValueError(f"{what} is not supported here")
    return value


class ImageParams(BaseModel):
    """Horde's ``ModelGenerationInputStable``."""

    model_config = STRICT

    width: Side = 512
    height: Side = 512
    steps: int = Field(DEFAULT_STEPS, ge=1, le=LIMITS.max_steps)
    cfg_scale: float = Field(7.5, ge=0.0, le=LIMITS.max_guidance, allow_inf_nan=False)
    seed: str | None = Field(None, max_length=10, description="Decimal digits, 0..2^32-1.")
    n: int = Field(1, ge=1, le=LIMITS.max_images)
    # accepted and ignored: the registry pins how the model samples
    sampler_name: Short | None = None
    karras: bool = True
    clip_skip: int = Field(1, ge=1, le=12)
    denoising_strength: Unit | None = None
    hires_fix_denoising_strength: Unit | None = None
    facefixer_strength: Unit | None = None
    seed_variation: int | None = Field(None, ge=1, le=1000)
    post_processing_order: Short | None = None
    use_nsfw_censor: bool = False
    # refused unless left at Horde's default
    post_processing: Unused = None
    loras: Unused = None
    tis: Unused = None
    extra_texts: Unused = None
    tiling: bool = False
    hires_fix: bool = False
    transparent: bool | None = None
    control_type: Short | None = None
    image_is_control: bool | None = None
    return_control_map: bool | None = None
    workflow: Short | None = None
    special: dict[str, Any] | None = Field(None, max_length=0)

    @field_validator("seed")
    @classmethod
    def _seed(cls, value: str | None) -> str | None:
        if value is not None and value != "" and (not value.isdigit() or int(value) > SEED_MAX):
            raise ValueError(f"must be decimal digits within 0..{SEED_MAX}")
        return value or None

    @field_validator("tiling", "hires_fix", "transparent", "image_is_control", "return_control_map")
    @classmethod
    def _off(cls, value: bool | None) -> bool | None:
        return _no(value, False, "this option")  # type: ignore[return-value]

    @field_validator("control_type", "workflow")
    @classmethod
    def _none(cls, value: str | None) -> str | None:
        return _no(value, "", "this option")  # type: ignore[return-value]

    def seed_value(self) -> int | None:
        return int(self.seed) if self.seed else None


class Routing(BaseModel):
    """What both kinds of request share: models, Horde's worker choices, dry runs."""

    model_config = STRICT

    models: list[Name] = Field(default_factory=list, max_length=MAX_MODELS)
    dry_run: bool = False
    # accepted and ignored: every swarmgen worker is checked, none is trusted more
    trusted_workers: bool = False
    slow_workers: bool = True
    extra_slow_workers: bool = False
    validated_backends: bool | None = None
    allow_downgrade: bool = False
    disable_batching: bool = False
    proxied_account: Short | None = None
    # refused unless left at Horde's default: workers are drawn, never picked
    workers: list[Short] = Field(default_factory=list, max_length=0)
    worker_blacklist: list[Short] = Field(default_factory=list, max_length=0)
    webhook: None = None
    extra_source_images: Unused = None


class ImageIn(Routing):
    """Horde's ``GenerationInputStable``."""

    prompt: Prompt
    params: ImageParams = Field(default_factory=ImageParams)
    # accepted and ignored: images are links unless the status asks ``?r2=false``; no
    # safety filter, no dataset sharing
    r2: bool = True
    nsfw: bool = True
    censor_nsfw: bool = False
    shared: bool = False
    replacement_filter: bool = True
    # refused unless left at Horde's default: text to image only
    source_image: None = None
    source_mask: None = None
    source_processing: Literal["txt2img"] = "txt2img"

    def prompts(self) -> tuple[str, str]:
        """``(prompt, negative prompt)``: Horde writes them as ``positive ### negative``."""
        positive, _, negative = self.prompt.partition(NEGATIVE)
        return positive.strip(), negative.strip()


class TextParams(BaseModel):
    """Horde's ``ModelGenerationInputKobold``."""

    model_config = STRICT

    max_length: int = Field(DEFAULT_MAX_LENGTH, ge=1, le=LIMITS.max_tokens)
    temperature: float = Field(0.0, ge=0.0, le=LIMITS.max_temperature, allow_inf_nan=False)
    top_p: float = Field(1.0, gt=0.0, le=1.0, allow_inf_nan=False)
    n: Literal[1] = Field(1, description="One generation per request.")
    # accepted and ignored: the registry pins how the model samples, and the face keeps
    # no state to cut the finished text at a stop sequence
    stop_sequence: list[Annotated[str, Field(max_length=64, pattern=PLAIN)]] = Field(
        default_factory=list, max_length=MAX_STOPS
    )
    max_context_length: int = Field(1024, ge=80, le=32000)
    rep_pen: float | None = Field(None, ge=1.0, le=3.0, allow_inf_nan=False)
    rep_pen_range: int | None = Field(None, ge=0, le=4096)
    rep_pen_slope: float | None = Field(None, ge=0.0, le=10.0, allow_inf_nan=False)
    top_k: int | None = Field(None, ge=0, le=100)
    top_a: Unit | None = None
    tfs: Unit | None = None
    typical: Unit | None = None
    min_p: Unit | None = None
    sampler_order: list[int] | None = Field(None, max_length=16)
    dynatemp_exponent: float | None = Field(None, ge=0.0, le=5.0, allow_inf_nan=False)
    dynatemp_range: float | None = Field(None, ge=0.0, le=5.0, allow_inf_nan=False)
    smoothing_factor: float | None = Field(None, ge=0.0, le=10.0, allow_inf_nan=False)
    use_default_badwordsids: bool | None = None
    frmtadsnsp: bool | None = None
    frmtrmblln: bool | None = None
    frmtrmspch: bool | None = None
    frmttriminc: bool | None = None
    singleline: bool | None = None


class TextIn(Routing):
    """Horde's ``GenerationInputKobold``: the prompt goes to the model as one user message."""

    prompt: Prompt
    params: TextParams = Field(default_factory=TextParams)
    softprompt: None = None
