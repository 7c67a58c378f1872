"""Tier pins: what every worker and validator of one offering must compute alike.

A lower tier of a model (``fp16``, ``bf16``, ``int8``, ``int4``) is only a single offering
when everyone serving it runs the same arithmetic, so the registry pins, per tier, the
numeric library and its version range, the method by name and every parameter the method
takes (bits, group size, which parts of the model it transforms and which it keeps).
:func:`parse_pins` refuses a tier that leaves any of it open; the backends realise the
method by its name (``swarmgen.backends.precision``), the worker checks the installed
library against the version range before it loads anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from swarmgen.core.economics import DEFAULT_DETECTION

SEPARABLE_DETECTION = DEFAULT_DETECTION
"""Least per-check detection at which a lower tier run under a higher tier's name counts
as told apart. Below it the pair is one offering in all but name: the registry makes the
two share one price and one emission share, so running the lower one pays nothing."""

DTYPES = frozenset({"float32", "float16", "bfloat16"})
"""Names of the floating dtypes a tier may load its weights in."""


class TierError(ValueError):
    """A tier's pins are missing or malformed."""


@dataclass(frozen=True)
class TierPins:
    """How one offering's weights are loaded and transformed."""

    library: str
    """Distribution that does the arithmetic, e.g. ``"torch"`` or ``"torchao"``."""
    version: str
    """PEP 440 range of that library every server of the tier must have, e.g. ``">=0.18,<0.19"``."""
    method: str
    """Registered method name (``dtype``, ``int8-weight-only``, ``intx-weight-only`` …)."""
    dtype: str = "float32"
    """Dtype the weights load in (and stay in where the method keeps them)."""
    bits: int | None = None
    """Bits per quantized weight (quantizing methods only)."""
    group_size: int | None = None
    """Weights that share one scale, along the input dimension (grouped methods only)."""
    modules: tuple[str, ...] = ()
    """The parts of the model the method transforms: pipeline components for an image
    model (``unet``, ``text_encoder``), ``model`` for a language model."""
    layers: str = "Linear"
    """Layer type the method transforms inside those parts; every other layer is kept."""
    keep: tuple[str, ...] = ()
    """Module names kept at ``dtype`` although they are of that layer type (``lm_head``)."""

    @property
    def quantizes(self) -> bool:
        return self.method != "dtype"

    def specifier(self) -> SpecifierSet:
        return SpecifierSet(self.version)

    def allows(self, installed: str) -> bool:
        """Whether library version ``installed`` is inside :attr:`version`."""
        return self.specifier().contains(installed, prereleases=True)

    def describe(self) -> str:
        """One line for logs and listings, e.g. ``torchao int8-weight-only (group 32)``."""
        parts = [f"{self.library}{self.version}", self.method]
        if self.method == "dtype":
            parts.append(self.dtype)
        if self.bits is not None:
            parts.append(f"{self.bits}-bit")
        if self.group_size is not None:
            parts.append(f"group {self.group_size}")
        if self.quantizes:
            parts.append(f"{self.layers} in {'+'.join(self.modules)}")
            if self.keep:
                parts.append(f"keeps {'+'.join(self.keep)}")
        return " ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "library": self.library,
            "version": self.version,
            "method": self.method,
            "dtype": self.dtype,
        }
        if self.quantizes:
            out |= {"modules": list(self.modules), "layers": self.layers, "keep": list(self.keep)}
        if self.bits is not None:
            out["bits"] = self.bits
        if self.group_size is not None:
            out["group_size"] = self.group_size
        return out


_KEYS = frozenset(
    {"library", "version", "method", "dtype", "bits", "group_size", "modules", "layers", "keep"}
)


def _text(where: str, table: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise TierError(f"{where}.{key} must be a non-empty string, not {value!r}")
    return value


def _names(where: str, table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TierError(f"{where}.{key} must be a list of names, not {value!r}")
    return tuple(value)


def _count(where: str, table: Mapping[str, Any], key: str, low: int, high: int) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if type(value) is not int or not low <= value <= high:
        raise TierError(f"{where}.{key} must be an integer in [{low}, {high}], not {value!r}")
    return value


def parse_pins(where: str, table: object) -> TierPins:
    """The pins in ``table`` (the registry's ``pins`` of one offering, named ``where``).

    :class:`TierError` names the first missing or malformed key: a tier without a
    library, a version range, a method, or a quantizing method without bits and the
    modules it transforms, is refused.
    """
    if not isinstance(table, Mapping) or not table:
        raise TierError(
            f"{where} has no pins: a tier must pin library, version, method and its "
            "parameters, so every worker and validator runs the same arithmetic"
        )
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise TierError(f"{where} has unknown pins {unknown} (known: {sorted(_KEYS)})")
    version = _text(where, table, "version")
    try:
        SpecifierSet(version)
    except InvalidSpecifier:
        raise TierError(f"{where}.version {version!r} is not a PEP 440 range") from None
    pins = TierPins(
        library=_text(where, table, "library"),
        version=version,
        method=_text(where, table, "method"),
        dtype=_text(where, table, "dtype", "float32"),
        bits=_count(where, table, "bits", 1, 16),
        group_size=_count(where, table, "group_size", 1, 1 << 16),
        modules=_names(where, table, "modules"),
        layers=_text(where, table, "layers", "Linear"),
        keep=_names(where, table, "keep"),
    )
    if pins.dtype not in DTYPES:
        raise TierError(f"{where}.dtype must be one of {sorted(DTYPES)}, not {pins.dtype!r}")
    if pins.quantizes and (pins.bits is None or not pins.modules):
        raise TierError(f"{where}: method {pins.method} needs bits and modules pinned")
    return pins


@dataclass(frozen=True)
class TierTerms:
    """What a tier is paid by: its price multiplier and its emission share."""

    price_multiplier: int
    emission_share: int


def check_indistinguishable(
    model: str,
    terms: Mapping[str, TierTerms],
    detection_by_tier: Mapping[str, Mapping[str, float]],
) -> None:
    """Refuse a model whose tiers that cannot be told apart are paid differently.

    ``detection_by_tier[claimed][run]`` is the measured share of checks at ``claimed``'s
    calibrated thresholds that reject ``run`` served under ``claimed``'s name (for text,
    the lower of greedy and sampled jobs). A pair below :data:`SEPARABLE_DETECTION` must
    share one price multiplier and one emission share (:class:`TierError` otherwise).
    """
    for claimed, table in detection_by_tier.items():
        for run, rate in table.items():
            if claimed not in terms or run not in terms or rate >= SEPARABLE_DETECTION:
                continue
            if terms[claimed] != terms[run]:
                raise TierError(
                    f"models.{model}: {run} served as {claimed} is caught on {rate:.0%} of "
                    f"checks (below {SEPARABLE_DETECTION:.0%}), so the two cannot be told "
                    f"apart and must share one price_multiplier and emission_share; they "
                    f"have {terms[claimed]} and {terms[run]}"
                )
