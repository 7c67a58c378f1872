"""Model offerings: a model name with a precision, written ``name@precision``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar


class Precision(str):
    """A numeric precision or quantization method a model runs at; each is its own offering.

    The set is open: a name exists once :func:`register_precision` has registered it, and
    ``Precision(name)`` refuses any other (``ValueError``). Instances are interned, so
    ``is`` compares them. How a backend realises a precision (a torch dtype, a
    quantization pass) is registered on the backend side (``swarmgen.backends.precision``),
    never here: the coordinator knows the names without any numeric library.
    """

    __slots__ = ()

    FP32: ClassVar[Precision]
    BF16: ClassVar[Precision]
    FP16: ClassVar[Precision]
    INT8: ClassVar[Precision]
    INT4: ClassVar[Precision]

    def __new__(cls, name: str) -> Precision:
        known = _PRECISIONS.get(name)
        if known is None:
            raise ValueError(f"unknown precision {name!r} (registered: {', '.join(_PRECISIONS)})")
        return known

    @property
    def value(self) -> str:
        """The name as a plain string (as ``StrEnum`` members spell it)."""
        return str.__str__(self)

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self.value]

    def __repr__(self) -> str:
        return f"Precision({self.value!r})"


_PRECISIONS: dict[str, Precision] = {}
_DESCRIPTIONS: dict[str, str] = {}
_PRECISION_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def register_precision(name: str, description: str) -> Precision:
    """Make ``name`` a precision offerings may use; idempotent for the same name."""
    if not _PRECISION_NAME.match(name):
        raise ValueError(f"precision name {name!r} must be 1-32 of a-z, 0-9, '_', '-'")
    if name not in _PRECISIONS:
        _PRECISIONS[name] = str.__new__(Precision, name)
        _DESCRIPTIONS[name] = description
    return _PRECISIONS[name]


def precisions() -> tuple[Precision, ...]:
    """Every registered precision, in registration order."""
    return tuple(_PRECISIONS.values())


Precision.FP32 = register_precision("fp32", "32-bit floats: the reference.")
Precision.BF16 = register_precision("bf16", "bfloat16 weights and activations.")
Precision.FP16 = register_precision("fp16", "IEEE half precision.")
Precision.INT8 = register_precision("int8", "8-bit quantized weights.")
Precision.INT4 = register_precision("int4", "4-bit quantized weights.")


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
            choices = ", ".join(p.value for p in precisions())
            raise ValueError(f"precision must be one of {choices}") from None

    def __str__(self) -> str:
        return f"{self.name}@{self.precision.value}"
