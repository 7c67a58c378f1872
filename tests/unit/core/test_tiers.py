"""Tier pins: a lower tier is refused unless it pins library, version, method and parameters."""

from __future__ import annotations

import pytest

from swarmgen.core.offerings import Offering, Precision
from swarmgen.core.tiers import SEPARABLE_DETECTION, TierError, TierPins, parse_pins
from swarmgen.registry import load_registry, parse_registry

TOML = """
[models.m]
kind = "image"
backend = "diffusers"

[models.m.offerings.fp32]
price_multiplier = 1

[models.m.offerings.int4]
price_multiplier = 1
{extra}
"""
INT4 = (
    'pins = { library = "torchao", version = ">=0.18,<0.19", method = "intx-weight-only",'
    ' bits = 4, group_size = 32, modules = ["unet"] }'
)


def test_a_complete_tier_loads_with_its_pins() -> None:
    registry = parse_registry(TOML.format(extra=INT4))
    pins = registry.offering(Offering.parse("m@int4")).pins
    assert pins == TierPins(
        "torchao", ">=0.18,<0.19", "intx-weight-only", bits=4, group_size=32, modules=("unet",)
    )
    assert pins.allows("0.18.0") and not pins.allows("0.19.0") and not pins.allows("0.17.9")
    assert registry.offering(Offering.parse("m@fp32")).pins is None  # fp32: the model's pins


def test_a_tier_without_pins_is_refused() -> None:
    with pytest.raises(TierError, match=r"models\.m\.offerings\.int4\.pins has no pins"):
        parse_registry(TOML.format(extra=""))


@pytest.mark.parametrize(
    ("pins", "reason"),
    [
        ('{ version = ">=1", method = "dtype", dtype = "float16" }', r"\.library must be"),
        ('{ library = "torch", method = "dtype", dtype = "float16" }', r"\.version must be"),
        ('{ library = "torch", version = "latest", method = "dtype" }', "not a PEP 440 range"),
        ('{ library = "torch", version = ">=2" }', r"\.method must be"),
        ('{ library = "torch", version = ">=2", method = "dtype", dtype = "f8" }', r"\.dtype"),
        (
            '{ library = "torchao", version = ">=0.18", method = "intx-weight-only", bits = 4 }',
            "needs bits and modules",
        ),
        (
            '{ library = "torchao", version = ">=0.18", method = "intx-weight-only",'
            ' modules = ["unet"] }',
            "needs bits and modules",
        ),
        (
            '{ library = "torchao", version = ">=0.18", method = "x", bits = 4,'
            ' modules = ["unet"], group_size = 0 }',
            r"group_size must be an integer",
        ),
        ('{ library = "torch", version = ">=2", method = "dtype", seed = 1 }', "unknown pins"),
        ('{ library = "torch", version = ">=2", method = "dtype", keep = "lm_head" }', r"\.keep"),
    ],
)
def test_an_incomplete_or_malformed_tier_is_refused(pins: str, reason: str) -> None:
    with pytest.raises(TierError, match=reason):
        parse_registry(TOML.format(extra=f"pins = {pins}"))


def test_parse_pins_refuses_a_non_table() -> None:
    with pytest.raises(TierError, match="has no pins"):
        parse_pins("x", "torchao")
    with pytest.raises(TierError, match="has no pins"):
        parse_pins("x", {})


def test_the_shipped_tiers_all_pin_their_arithmetic() -> None:
    registry = load_registry()
    for name in ("shapes-64", "smollm2-135m"):
        model = registry.models[name]
        assert set(model.offerings) == {
            Precision.FP32,
            Precision.FP16,
            Precision.BF16,
            Precision.INT8,
            Precision.INT4,
        }
        for precision, offering in model.offerings.items():
            if precision == Precision.FP32:
                continue
            assert offering.pins is not None, f"{name}@{precision}"
            if precision in {Precision.INT8, Precision.INT4}:
                assert offering.pins.library == "torchao"
                assert offering.pins.bits == (8 if precision == Precision.INT8 else 4)
            else:
                assert offering.pins.method == "dtype"
    assert registry.models["smollm2-135m"].offerings[Precision.INT4].pins.keep == ("lm_head",)  # type: ignore[union-attr]


PAIR = """
[models.m]
kind = "image"
backend = "diffusers"

[models.m.offerings.fp32]
price_multiplier = 2
emission_share = 2
thresholds = {{ detection_by_tier = {{ fp16 = {rate} }} }}

[models.m.offerings.fp16]
price_multiplier = {price}
emission_share = 2
pins = {{ library = "torch", version = ">=2", method = "dtype", dtype = "float16" }}
"""


def test_tiers_that_checks_cannot_tell_apart_must_be_paid_alike() -> None:
    with pytest.raises(TierError, match=r"fp16 served as fp32 is caught on 3% of checks"):
        parse_registry(PAIR.format(rate=0.03, price=1), economics=False)
    same = parse_registry(PAIR.format(rate=0.03, price=2), economics=False)
    assert same.offering(Offering.parse("m@fp16")).price_multiplier == 2
    told_apart = parse_registry(PAIR.format(rate=0.9, price=1), economics=False)
    assert told_apart.offering(Offering.parse("m@fp16")).price_multiplier == 1


def test_a_malformed_detection_by_tier_is_refused() -> None:
    with pytest.raises(ValueError, match="detection_by_tier must map tiers to rates"):
        parse_registry(PAIR.format(rate='"low"', price=2), economics=False)


def test_the_shipped_registry_pays_indistinguishable_tiers_alike() -> None:
    registry = load_registry()
    for name in ("shapes-64", "smollm2-135m"):
        model = registry.models[name]
        for claimed, entry in model.offerings.items():
            for run, rate in entry.thresholds.get("detection_by_tier", {}).items():
                other = model.offerings[Precision(run)]
                if rate < SEPARABLE_DETECTION:
                    assert (entry.price_multiplier, entry.emission_share) == (
                        other.price_multiplier,
                        other.emission_share,
                    ), f"{name}: {claimed}/{run}"
