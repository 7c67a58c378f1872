"""The model registry: which offerings exist, how to load them, and what verification pins.

It is a TOML file (``swarmgen/models.toml`` ships as the default). Each ``[models.NAME]``
table names a backend and a source, the precisions offered, and per precision a price
multiplier, (once calibrated) verification thresholds and (once measured) how often checks
at that precision catch each lower tier (``detection_by_tier``, kept apart from the
thresholds so a recalibration does not wipe it).

Loading refuses a registry under which cheating pays even at the default stake, slash
and sampling floor (:func:`check_economics`, the rule of :mod:`swarmgen.core.economics`);
the coordinator checks again with its own settings when it starts.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from swarmgen.core.economics import DEFAULT_DETECTION, MIN_STAKE, Terms, lowest_detection
from swarmgen.core.jobs import ImageSpec, Spec, TextSpec
from swarmgen.core.offerings import Kind, Offering, Precision
from swarmgen.core.pricing import MULTIPLIER_UNIT, Rates, parse_multiplier, quote
from swarmgen.core.settlement import EpochConfig
from swarmgen.core.stake import StakePolicy
from swarmgen.core.tiers import (
    TierDetection,
    TierError,
    TierPins,
    TierTerms,
    check_indistinguishable,
    parse_detection,
    parse_pins,
)
from swarmgen.core.verification.escalation import rejection_probability
from swarmgen.core.verification.sampling import SamplingPolicy


@dataclass(frozen=True)
class OfferingEntry:
    """Per-precision settings of a model."""

    multiplier_ppm: int = MULTIPLIER_UNIT
    """Multiplier on the base price of a unit of work, in millionths (the registry's
    ``price_multiplier``, which may be a fraction: ``0.5`` is ``500_000``)."""
    emission_share: int = 0
    """Relative weight of this offering in each epoch's emission pool (0: none)."""
    thresholds: dict[str, Any] = field(default_factory=dict)
    """Calibrated verification thresholds and their measured rates."""
    min_stake: int | None = None
    """Locked stake (micro-credits) a worker needs to serve this offering; ``None``: the
    coordinator's ``min_stake`` setting."""
    pins: TierPins | None = None
    """How the tier is computed (library, version range, method and its parameters);
    required of every precision but ``fp32``, whose arithmetic the model's pins fix."""
    footprint: int | None = None
    """Peak resident memory in bytes of a worker process serving this tier, as measured by
    ``bench/quality.py``; a worker that declares less memory is not given its jobs."""
    quality: dict[str, float] = field(default_factory=dict)
    """Measured quality against fp32 (``bench/quality.py``), shown in the model listings."""
    detection_by_tier: dict[str, TierDetection] = field(default_factory=dict)
    """Per lower tier: how often checks at this tier's thresholds reject its outputs
    served under this tier's name (``bench/tiers.py``)."""

    @property
    def price_multiplier(self) -> float:
        """:attr:`multiplier_ppm` as a number, for listings."""
        return self.multiplier_ppm / MULTIPLIER_UNIT


@dataclass(frozen=True)
class ModelEntry:
    """One model: its backend, where its weights come from, and what verification pins."""

    name: str
    kind: Kind
    backend: str
    source: str
    max_pixels: int = 512 * 512
    pins: dict[str, Any] = field(default_factory=dict)
    offerings: dict[Precision, OfferingEntry] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Registry:
    """All models known to a coordinator or worker."""

    models: dict[str, ModelEntry]
    path: Path | None = None
    rates: Rates = field(default_factory=lambda: Rates(0, 0))
    """Base prices of a unit of work (the ``[pricing]`` table)."""

    def entry(self, offering: Offering) -> ModelEntry:
        """The model behind ``offering``; ``KeyError`` when unknown or not at that precision."""
        model = self.models[offering.name]
        if offering.precision not in model.offerings:
            raise KeyError(str(offering))
        return model

    def offering(self, offering: Offering) -> OfferingEntry:
        return self.entry(offering).offerings[offering.precision]

    def __contains__(self, offering: object) -> bool:
        if not isinstance(offering, Offering):
            return False
        model = self.models.get(offering.name)
        return model is not None and offering.precision in model.offerings

    def min_stake(self, offering: Offering, default: int) -> int:
        """Locked stake a worker needs to serve ``offering``: its own, else ``default``."""
        own = self.offering(offering).min_stake
        return default if own is None else own

    def fits(self, offering: Offering, memory: int | None) -> bool:
        """Whether a worker that declared ``memory`` bytes can hold ``offering``: always when
        it declared none or the offering has no measured footprint."""
        footprint = self.offering(offering).footprint
        return memory is None or footprint is None or footprint <= memory

    def held(self, models: Iterable[str], memory: int | None) -> list[str]:
        """The offerings among ``models`` (``name@precision`` texts) that are in the
        registry and fit ``memory`` (:meth:`fits`), in their order."""
        held = []
        for text in models:
            try:
                offering = Offering.parse(text)
            except ValueError:
                continue
            if offering in self and self.fits(offering, memory):
                held.append(text)
        return held

    def emission_shares(self) -> dict[str, int]:
        """``name@precision`` -> emission weight, for offerings with a share."""
        return {
            str(offering): self.offering(offering).emission_share
            for offering in self.all_offerings()
            if self.offering(offering).emission_share > 0
        }

    def all_offerings(self) -> Iterator[Offering]:
        for model in self.models.values():
            for precision in model.offerings:
                yield Offering(model.name, precision)


def _min_stake(name: str, spec: dict[str, Any]) -> int | None:
    """An offering's ``min_stake``: absent, or a non-negative integer of micro-credits."""
    value = spec.get("min_stake")
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise ValueError(f"models.{name}: min_stake must be a non-negative integer, not {value!r}")
    return value


def _footprint(where: str, spec: dict[str, Any]) -> int | None:
    """An offering's ``footprint``: absent, or a positive integer of bytes."""
    value = spec.get("footprint")
    if value is None:
        return None
    if type(value) is not int or value < 1:
        raise ValueError(f"models.{where}: footprint must be a positive integer of bytes")
    return value


def _quality(where: str, spec: dict[str, Any]) -> dict[str, float]:
    table = spec.get("quality", {})
    if not isinstance(table, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in table.values()
    ):
        raise ValueError(f"models.{where}: quality must be a table of numbers")
    return {str(k): float(v) for k, v in table.items()}


def _parse_offering(name: str, precision: str, spec: dict[str, Any]) -> OfferingEntry:
    """One ``[models.NAME.offerings.PRECISION]`` table; a tier other than fp32 without
    complete pins is refused (:class:`~swarmgen.core.tiers.TierError`)."""
    where = f"{name}.offerings.{precision}"
    raw_pins = spec.get("pins")
    pins = None
    if raw_pins is not None or precision != Precision.FP32:
        pins = parse_pins(f"models.{where}.pins", raw_pins)
    thresholds = dict(spec.get("thresholds", {}))
    if "detection_by_tier" in thresholds:
        raise TierError(
            f"models.{where}.thresholds.detection_by_tier: moved to "
            f"[models.{where}.detection_by_tier] (a recalibration rewrites the thresholds)"
        )
    try:
        multiplier = parse_multiplier(spec.get("price_multiplier", 1))
    except ValueError as exc:
        raise ValueError(f"models.{where}.price_multiplier: {exc}") from None
    return OfferingEntry(
        multiplier_ppm=multiplier,
        emission_share=int(spec.get("emission_share", 0)),
        thresholds=thresholds,
        min_stake=_min_stake(where, spec),
        pins=pins,
        footprint=_footprint(where, spec),
        quality=_quality(where, spec),
        detection_by_tier=parse_detection(
            f"models.{where}.detection_by_tier", spec.get("detection_by_tier", {})
        ),
    )


def _check_tiers(name: str, offerings: dict[Precision, OfferingEntry]) -> None:
    """Tiers that checks cannot tell apart must be paid alike (``detection_by_tier``)."""
    terms = {p.value: TierTerms(o.multiplier_ppm, o.emission_share) for p, o in offerings.items()}
    detection = {p.value: o.detection_by_tier for p, o in offerings.items()}
    check_indistinguishable(name, terms, detection)


def _parse_model(name: str, table: dict[str, Any]) -> ModelEntry:
    offerings = {
        Precision(precision): _parse_offering(name, precision, spec)
        for precision, spec in table.get("offerings", {}).items()
    }
    _check_tiers(name, offerings)
    return ModelEntry(
        name=name,
        kind=Kind(table["kind"]),
        backend=table["backend"],
        source=table.get("source", ""),
        max_pixels=int(table.get("max_pixels", 512 * 512)),
        pins=dict(table.get("pins", {})),
        offerings=offerings,
        options=dict(table.get("options", {})),
    )


REFERENCE_JOBS: dict[Kind, Spec] = {
    Kind.IMAGE: ImageSpec(prompt="reference"),
    Kind.TEXT: TextSpec(prompt="reference"),
}
"""The job the economic rule is checked on, per kind: a request with every default."""


def economic_terms(
    registry: Registry,
    *,
    min_sampling_rate: float = SamplingPolicy().floor,
    slash_ppm: int = StakePolicy().slash_ppm,
    min_stake: int = MIN_STAKE,
    validator_fee_ppm: int = EpochConfig.validator_fee_ppm,
) -> Terms:
    """The rule's terms under ``registry``: a panel's rejection probability at its lowest
    per-comparison detection figure for a compute-saving cheat
    (:data:`~swarmgen.core.economics.DEFAULT_DETECTION` for an offering that holds none)."""
    tables = [
        registry.offering(o).thresholds.get("detection_by_cheat") for o in registry.all_offerings()
    ]
    lowest = [lowest_detection([t]) if isinstance(t, dict) else None for t in tables]
    detection = min((d if d is not None else DEFAULT_DETECTION for d in lowest), default=1.0)
    return Terms(
        min_sampling_rate=min_sampling_rate,
        detection=rejection_probability(detection),
        validator_fee_ppm=validator_fee_ppm,
        slash_ppm=slash_ppm,
        min_stake=min_stake,
    )


def reference_price(registry: Registry) -> tuple[int, str]:
    """The highest price of a reference job over the registry's offerings, and where."""
    prices = [
        (
            quote(
                REFERENCE_JOBS[registry.entry(o).kind],
                registry.offering(o).multiplier_ppm,
                registry.rates,
            ).price,
            str(o),
        )
        for o in registry.all_offerings()
    ]
    return max(prices, default=(0, "no offering"))


def check_economics(registry: Registry, terms: Terms | None = None) -> None:
    """Refuse ``registry`` when cheating on its reference job pays under ``terms``
    (default: :func:`economic_terms` at the default settings)."""
    price, offering = reference_price(registry)
    (terms or economic_terms(registry)).require(price, f"a reference job of {offering}")


def parse_registry(text: str, path: Path | None = None, *, economics: bool = True) -> Registry:
    """The registry in ``text``; refused (:class:`~swarmgen.core.economics.EconomicsError`)
    when cheating pays under it at the default terms, unless ``economics`` is false (the
    calibration tool, which must be able to load a registry in order to fix its figures)."""
    data = tomllib.loads(text)
    models = {name: _parse_model(name, table) for name, table in data.get("models", {}).items()}
    pricing = data.get("pricing", {})
    rates = Rates(
        image_per_mpixel_step=int(pricing.get("image_per_mpixel_step", 0)),
        text_per_ktoken=int(pricing.get("text_per_ktoken", 0)),
        minimum=int(pricing.get("minimum", 1)),
    )
    registry = Registry(models=models, path=path, rates=rates)
    if economics:
        check_economics(registry)
    return registry


def load_registry(path: Path | None = None, *, economics: bool = True) -> Registry:
    """Load ``path``, or the registry that ships with the package when ``None``
    (``economics``: see :func:`parse_registry`)."""
    if path is None:
        text = resources.files("swarmgen").joinpath("models.toml").read_text("utf-8")
        return parse_registry(text, economics=economics)
    return parse_registry(path.read_text("utf-8"), path, economics=economics)
