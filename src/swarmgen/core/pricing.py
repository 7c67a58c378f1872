"""What a job costs, in integer micro-credits.

Images cost by ``pixels * steps * n``, text by ``prompt tokens + max_tokens``, each times
the offering's multiplier and a base rate. Base rates and multipliers come from the model
registry: this module holds the formula, never the figures. A multiplier may be a
fraction (a lower tier that costs less to run is priced below fp32's 1); it is held as an
integer of millionths (:data:`MULTIPLIER_UNIT`), so every price is integer arithmetic,
rounded up once (:func:`_ceil_div`) and never below the rates' minimum: no job is free by
rounding and every job pays its worker something.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from swarmgen.core.credits import require_funds
from swarmgen.core.jobs import Spec, TextSpec
from swarmgen.core.modalities.base import modality_of

PIXEL_STEPS_PER_RATE = 1_000_000
"""Image rates are per million pixel-steps (a 1024x1024 image at one step is ~1.05 of them)."""
TOKENS_PER_RATE = 1_000
"""Text rates are per thousand tokens."""
MULTIPLIER_UNIT = 1_000_000
"""Multipliers are held in millionths: ``1_000_000`` is a multiplier of 1."""
MAX_MULTIPLIER = 1_000
"""Largest multiplier the registry may give an offering."""


@dataclass(frozen=True)
class Rates:
    """Base rates of the network, in micro-credits."""

    image_per_mpixel_step: int
    """Price of one million pixel-steps at multiplier 1."""
    text_per_ktoken: int
    """Price of one thousand tokens (prompt or generated) at multiplier 1."""
    minimum: int = 1
    """No job costs less than this."""

    def __post_init__(self) -> None:
        for name in ("image_per_mpixel_step", "text_per_ktoken", "minimum"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")


@dataclass(frozen=True)
class Quote:
    """A price with what it was computed from, as a quote endpoint returns it."""

    price: int
    work_units: int
    """Pixel-steps for images, tokens for text."""
    multiplier_ppm: int
    """The offering's multiplier in millionths (:data:`MULTIPLIER_UNIT`)."""


def parse_multiplier(value: object) -> int:
    """A registry ``price_multiplier`` (a number above 0, at most :data:`MAX_MULTIPLIER`,
    with at most six decimals) in millionths; ``ValueError`` says what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"a price multiplier must be a number, not {value!r}")
    try:
        exact = Decimal(str(value)) * MULTIPLIER_UNIT  # the decimal as written, not the float
    except InvalidOperation:
        raise ValueError(f"a price multiplier must be a finite number, not {value!r}") from None
    if not exact.is_finite() or exact != exact.to_integral_value():
        raise ValueError(f"a price multiplier has at most six decimals, not {value!r}")
    ppm = int(exact)
    if not 0 < ppm <= MAX_MULTIPLIER * MULTIPLIER_UNIT:
        raise ValueError(f"a price multiplier must be in (0, {MAX_MULTIPLIER}], not {value!r}")
    return ppm


def multiplier_text(ppm: int) -> str:
    """A multiplier in millionths as the registry writes it: ``0.35``, ``1``."""
    text = format(Decimal(ppm) / MULTIPLIER_UNIT, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _ceil_div(a: int, b: int) -> int:
    """The one rounding of every price: up."""
    return -(-a // b)


def _check_multiplier(multiplier_ppm: int) -> None:
    if type(multiplier_ppm) is not int or multiplier_ppm < 1:
        raise ValueError("an offering's price multiplier must be a positive integer of millionths")


def price_image(
    width: int, height: int, steps: int, n: int, *, multiplier_ppm: int, rates: Rates
) -> int:
    """Price of ``n`` images of ``width x height`` at ``steps`` denoising steps."""
    _check_multiplier(multiplier_ppm)
    units = width * height * steps * n * multiplier_ppm * rates.image_per_mpixel_step
    return max(rates.minimum, _ceil_div(units, PIXEL_STEPS_PER_RATE * MULTIPLIER_UNIT))


def price_text(prompt_tokens: int, max_tokens: int, multiplier_ppm: int, rates: Rates) -> int:
    """Price of a text job: every prompt token and every token it may generate."""
    _check_multiplier(multiplier_ppm)
    units = (prompt_tokens + max_tokens) * multiplier_ppm * rates.text_per_ktoken
    return max(rates.minimum, _ceil_div(units, TOKENS_PER_RATE * MULTIPLIER_UNIT))


def estimate_prompt_tokens(spec: TextSpec) -> int:
    """Prompt tokens before tokenizing: one per four characters, rounded up."""
    chars = len(spec.prompt or "") + sum(len(m.content) for m in spec.messages)
    return _ceil_div(chars, 4)


def quote(spec: Spec, multiplier_ppm: int, rates: Rates, prompt_tokens: int | None = None) -> Quote:
    """The price of ``spec`` on an offering with ``multiplier_ppm``, by its modality's formula.

    ``prompt_tokens`` is the tokenizer's count when the caller has one; otherwise it is
    estimated from the prompt's length.
    """
    return modality_of(spec).quote(spec, multiplier_ppm, rates, prompt_tokens)


def check_affordable(balance: int, offer: Quote) -> None:
    """Raise ``InsufficientCredits`` (402, with the shortfall) unless ``balance`` pays ``offer``."""
    require_funds(balance, offer.price)
