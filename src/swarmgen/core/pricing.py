"""What a job costs, in integer micro-credits.

Images cost by ``pixels * steps * n``, text by ``prompt tokens + max_tokens``, each times
the offering's integer multiplier and a base rate. Base rates and multipliers come from
the model registry: this module holds the formula, never the figures. Every price is
rounded up, so no job is ever free by rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

from swarmgen.core.credits import require_funds
from swarmgen.core.jobs import Spec, TextSpec
from swarmgen.core.modalities.base import modality_of

PIXEL_STEPS_PER_RATE = 1_000_000
"""Image rates are per million pixel-steps (a 1024x1024 image at one step is ~1.05 of them)."""
TOKENS_PER_RATE = 1_000
"""Text rates are per thousand tokens."""


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
    multiplier: int


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _check_multiplier(multiplier: int) -> None:
    if type(multiplier) is not int or multiplier < 1:
        raise ValueError("an offering's price multiplier must be a positive integer")


def price_image(
    width: int, height: int, steps: int, n: int, *, multiplier: int, rates: Rates
) -> int:
    """Price of ``n`` images of ``width x height`` at ``steps`` denoising steps."""
    _check_multiplier(multiplier)
    units = width * height * steps * n
    cost = _ceil_div(units * multiplier * rates.image_per_mpixel_step, PIXEL_STEPS_PER_RATE)
    return max(rates.minimum, cost)


def price_text(prompt_tokens: int, max_tokens: int, multiplier: int, rates: Rates) -> int:
    """Price of a text job: every prompt token and every token it may generate."""
    _check_multiplier(multiplier)
    units = prompt_tokens + max_tokens
    return max(
        rates.minimum, _ceil_div(units * multiplier * rates.text_per_ktoken, TOKENS_PER_RATE)
    )


def estimate_prompt_tokens(spec: TextSpec) -> int:
    """Prompt tokens before tokenizing: one per four characters, rounded up."""
    chars = len(spec.prompt or "") + sum(len(m.content) for m in spec.messages)
    return _ceil_div(chars, 4)


def quote(spec: Spec, multiplier: int, rates: Rates, prompt_tokens: int | None = None) -> Quote:
    """The price of ``spec`` on an offering with ``multiplier``, by its modality's formula.

    ``prompt_tokens`` is the tokenizer's count when the caller has one; otherwise it is
    estimated from the prompt's length.
    """
    return modality_of(spec).quote(spec, multiplier, rates, prompt_tokens)


def check_affordable(balance: int, offer: Quote) -> None:
    """Raise ``InsufficientCredits`` (402, with the shortfall) unless ``balance`` pays ``offer``."""
    require_funds(balance, offer.price)
