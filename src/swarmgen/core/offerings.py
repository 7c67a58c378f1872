"""Model offerings: a model name with a precision, written ``name@precision``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Precision(StrEnum):
    """Numeric precision a worker runs a model at; each is a distinct offering."""

    FP32 = "fp32"
    """32-bit floats: the reference."""
    BF16 = "bf16"
    """bfloat16 weights and activations."""
    FP16 = "fp16"
    """IEEE half precision."""
    INT8 = "int8"
    """8-bit quantized weights."""
    INT4 = "int4"
    """4-bit quantized weights."""


class Kind(StrEnum):
    """What a job produces."""

    IMAGE = "image"
    """PNG images from a text-to-image diffusion model."""
    TEXT = "text"
    """Text from a causal language model."""


_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True, order=True)
class Offering:
    """A model at a precision, e.g. ``shapes-64@fp32``."""

    name: str
    precision: Precision

    @classmethod
    def parse(cls, text: str) -> Offering:
        """Parse ``name@precision``; raises ``ValueError`` with the reason."""
        name, sep, precision = text.strip().partition("@")
        if not sep:
            raise ValueError("must be written name@precision, e.g. smollm2-135m@fp32")
        if not _NAME.match(name):
            raise ValueError("name must be 1-64 of a-z, 0-9, '.', '_', '-'")
        try:
            return cls(name, Precision(precision))
        except ValueError:
            choices = ", ".join(p.value for p in Precision)
            raise ValueError(f"precision must be one of {choices}") from None

    def __str__(self) -> str:
        return f"{self.name}@{self.precision.value}"
