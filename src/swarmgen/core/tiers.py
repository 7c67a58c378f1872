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
            if self.dtype != "float32":
                parts.append(f"on {self.dtype}")
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


TIER_RANK: Mapping[str, int] = {"fp32": 0, "fp16": 1, "bf16": 1, "int8": 2, "int4": 3}
"""Tiers by the arithmetic they spend, highest first. A run at the claimed tier's rank or
below it is the cheat that saves (fp16 and bf16 share a rank: either may be the cheaper
one on a given device); a run above the claimed tier spends more and is not checked for."""

RATE_KEYS = ("rate", "greedy", "sampled")
"""Measured shares a detection figure may hold: ``rate`` for images, ``greedy`` and
``sampled`` for text (jobs whose kind a worker can see, so it cheats on the weaker)."""


@dataclass(frozen=True)
class TierDetection:
    """How often checks at a claimed tier's thresholds reject another tier's outputs."""

    rates: Mapping[str, float]
    """Share of checks that reject, per kind of job (:data:`RATE_KEYS`)."""
    checks: int
    """Checks measured per kind of job."""

    @property
    def rate(self) -> float:
        """The figure a cheater faces: the lowest over the kinds of job it can pick."""
        return min(self.rates.values())


def parse_detection(where: str, table: object) -> dict[str, TierDetection]:
    """A claimed tier's ``detection_by_tier`` table: run tier -> ``{rate = …, checks = …}``
    (text: ``greedy`` and ``sampled`` instead of ``rate``); :class:`TierError` otherwise."""
    if not isinstance(table, Mapping):
        raise TierError(f"{where} must be a table of tiers")
    found: dict[str, TierDetection] = {}
    for run, entry in table.items():
        at = f"{where}.{run}"
        if run not in TIER_RANK:
            raise TierError(f"{at}: unknown tier (known: {sorted(TIER_RANK)})")
        if not isinstance(entry, Mapping) or set(entry) - {*RATE_KEYS, "checks"}:
            raise TierError(f"{at} must be {{ rate = share, checks = n }} (text: greedy, sampled)")
        rates = {k: entry[k] for k in RATE_KEYS if k in entry}
        if not rates or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1
            for v in rates.values()
        ):
            raise TierError(f"{at}: detection must be shares in [0, 1], not {dict(entry)!r}")
        checks = _count(at, entry, "checks", 1, 1 << 30)
        if checks is None:
            raise TierError(f"{at}.checks is missing: say how many checks measured it")
        found[str(run)] = TierDetection({k: float(v) for k, v in rates.items()}, checks)
    return found


@dataclass(frozen=True)
class TierTerms:
    """What a tier is paid by: its price multiplier (millionths) and its emission share."""

    multiplier_ppm: int
    emission_share: int

    def __str__(self) -> str:
        return (
            f"price_multiplier {self.multiplier_ppm / 1e6:g}, emission_share {self.emission_share}"
        )


def check_indistinguishable(
    model: str,
    terms: Mapping[str, TierTerms],
    detection_by_tier: Mapping[str, Mapping[str, TierDetection]],
) -> None:
    """Refuse a model whose tiers that cannot be told apart are paid differently.

    ``detection_by_tier[claimed][run]`` is the measured share of checks at ``claimed``'s
    calibrated thresholds that reject ``run`` served under ``claimed``'s name (for text,
    the lower of greedy and sampled jobs). Where ``run`` is not above ``claimed``
    (:data:`TIER_RANK`) and the share is below :data:`SEPARABLE_DETECTION`, the two must
    share one price multiplier and one emission share (:class:`TierError` otherwise).
    """
    for claimed, table in detection_by_tier.items():
        for run, found in table.items():
            if claimed not in terms or run not in terms or run == claimed:
                continue
            if TIER_RANK[run] < TIER_RANK.get(claimed, 0) or found.rate >= SEPARABLE_DETECTION:
                continue
            if terms[claimed] != terms[run]:
                raise TierError(
                    f"models.{model}: {run} served as {claimed} is caught on {found.rate:.0%} "
                    f"of {found.checks} checks (below {SEPARABLE_DETECTION:.0%}), so the two "
                    f"cannot be told apart and must share one price_multiplier and "
                    f"emission_share; they have {terms[claimed]} and {terms[run]}"
                )


PRICE_STEP_PPM = 10_000
"""Prices that follow cost are rounded up to hundredths of fp32's price."""


def look_alikes(detection_by_tier: Mapping[str, Mapping[str, TierDetection]]) -> list[set[str]]:
    """Groups of tiers joined by a pair checks cannot tell apart (a run not above the
    claimed tier, caught below :data:`SEPARABLE_DETECTION`); tiers alone are left out."""
    groups: list[set[str]] = []
    for claimed, table in detection_by_tier.items():
        for run, found in table.items():
            if run == claimed or TIER_RANK[run] < TIER_RANK.get(claimed, 0):
                continue
            if found.rate >= SEPARABLE_DETECTION:
                continue
            joined = {claimed, run}
            for group in [g for g in groups if g & joined]:
                groups.remove(group)
                joined |= group
            groups.append(joined)
    return groups


def prices_from_cost(
    cost: Mapping[str, float], detection_by_tier: Mapping[str, Mapping[str, TierDetection]]
) -> dict[str, int]:
    """Price multipliers (millionths) that follow measured cost, for the tiers in ``cost``.

    ``cost`` is each tier's measured compute per unit of work (seconds per image, or per
    token) on one machine at one thread count; ``fp32`` must be among them and is 1. A
    tier is priced at its cost relative to fp32, rounded up to :data:`PRICE_STEP_PPM`
    (never below what it costs its worker) and never above fp32's price (a tier that runs
    slower than fp32 on the measuring machine is served for its memory, not its speed).
    Look-alikes (:func:`look_alikes`) then share the highest price among them, so
    serving one under the other's name earns nothing and no honest worker of the
    group is paid below its cost.
    """
    base = cost["fp32"]
    if base <= 0:
        raise ValueError("fp32's measured cost must be positive")
    unit = 1_000_000
    prices = {
        tier: min(
            unit, max(PRICE_STEP_PPM, -(-round(c / base * unit) // PRICE_STEP_PPM) * PRICE_STEP_PPM)
        )
        for tier, c in cost.items()
    }
    for group in look_alikes(detection_by_tier):
        shared = max(prices.get(tier, unit) for tier in group)
        for tier in group & prices.keys():
            prices[tier] = shared
    return prices
