"""Tier pins: a lower tier is refused unless it pins library, version, method and parameters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.offerings import Offering, Precision
from swarmgen.core.tiers import (
    SEPARABLE_DETECTION,
    TIER_RANK,
    TierDetection,
    TierError,
    TierPins,
    TierTerms,
    check_indistinguishable,
    look_alikes,
    parse_pins,
    prices_from_cost,
)
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
            if precision == Precision.INT8:
                assert (offering.pins.library, offering.pins.bits) == ("torchao", 8)
            elif precision == Precision.INT4:  # packed two per byte, convolutions included
                assert (offering.pins.library, offering.pins.bits) == ("optimum-quanto", 4)
            else:
                assert offering.pins.method == "dtype"
    smollm2 = registry.models["smollm2-135m"].offerings
    assert smollm2[Precision.INT8].pins.keep == ("lm_head",)  # type: ignore[union-attr]
    # the 4-bit tier quantizes lm_head too and holds the embedding at bf16
    assert smollm2[Precision.INT4].pins.dtype == "bfloat16"  # type: ignore[union-attr]
    assert registry.models["shapes-64"].offerings[Precision.INT4].pins.layers == "Linear+Conv2d"  # type: ignore[union-attr]


PAIR = """
[models.m]
kind = "{kind}"
backend = "diffusers"

[models.m.offerings.fp32]
price_multiplier = 1
emission_share = 2

[models.m.offerings.{claimed}.detection_by_tier]
{run} = {figures}

[models.m.offerings.fp16]
price_multiplier = {price}
emission_share = 2
pins = {{ library = "torch", version = ">=2", method = "dtype", dtype = "float16" }}
"""


def pair(
    figures: str,
    price: str = "1",
    *,
    claimed: str = "fp32",
    run: str = "fp16",
    kind: str = "image",
) -> str:
    return PAIR.format(figures=figures, price=price, claimed=claimed, run=run, kind=kind)


def test_tiers_that_checks_cannot_tell_apart_must_be_paid_alike() -> None:
    with pytest.raises(TierError, match=r"fp16 served as fp32 is caught on 3% of 200 checks"):
        parse_registry(pair("{ rate = 0.03, checks = 200 }", "0.5"), economics=False)
    same = parse_registry(pair("{ rate = 0.03, checks = 200 }", "1"), economics=False)
    assert same.offering(Offering.parse("m@fp16")).multiplier_ppm == 1_000_000
    told_apart = parse_registry(pair("{ rate = 0.9, checks = 200 }", "0.5"), economics=False)
    assert told_apart.offering(Offering.parse("m@fp16")).price_multiplier == 0.5
    assert told_apart.offering(Offering.parse("m@fp32")).detection_by_tier["fp16"].checks == 200


def test_the_rule_sits_exactly_at_the_separable_detection() -> None:
    at = f"{{ rate = {SEPARABLE_DETECTION}, checks = 10 }}"
    parse_registry(pair(at, "0.5"), economics=False)
    below = f"{{ rate = {SEPARABLE_DETECTION - 0.001}, checks = 10 }}"
    with pytest.raises(TierError, match="must share one price_multiplier"):
        parse_registry(pair(below, "0.5"), economics=False)


def test_text_is_judged_by_the_weaker_of_greedy_and_sampled_jobs() -> None:
    weak_greedy = "{ greedy = 0.19, sampled = 1.0, checks = 100 }"
    with pytest.raises(TierError, match="caught on 19% of 100 checks"):
        parse_registry(pair(weak_greedy, "0.5", kind="text"), economics=False)
    both = "{ greedy = 0.97, sampled = 1.0, checks = 100 }"
    parse_registry(pair(both, "0.5", kind="text"), economics=False)


def test_a_run_above_the_claimed_tier_saves_nothing_and_is_not_priced_alike() -> None:
    # fp32 served as fp16 spends more than fp16 does: no cheat to price away
    registry = parse_registry(
        pair("{ rate = 0.0, checks = 200 }", "0.5", claimed="fp16", run="fp32"), economics=False
    )
    assert registry.offering(Offering.parse("m@fp16")).price_multiplier == 0.5


@pytest.mark.parametrize(
    ("figures", "reason"),
    [
        ('"low"', "must be"),
        ("0.2", "must be"),
        ("{ rate = 0.2 }", "checks is missing"),
        ("{ rate = 1.5, checks = 8 }", r"shares in \[0, 1\]"),
        ("{ rate = true, checks = 8 }", r"shares in \[0, 1\]"),
        ("{ checks = 8 }", r"shares in \[0, 1\]"),
        ("{ rate = 0.2, checks = 0 }", "checks must be an integer"),
        ("{ rate = 0.2, checks = 8, seed = 1 }", "must be"),
    ],
)
def test_a_malformed_detection_by_tier_is_refused(figures: str, reason: str) -> None:
    with pytest.raises(TierError, match=reason):
        parse_registry(pair(figures), economics=False)


def test_an_unknown_tier_in_detection_by_tier_is_refused() -> None:
    with pytest.raises(TierError, match="unknown tier"):
        parse_registry(pair("{ rate = 0.2, checks = 8 }", run="fp8"), economics=False)


def test_detection_by_tier_inside_the_thresholds_is_refused_not_ignored() -> None:
    # a recalibration rewrites the thresholds: figures there would be lost, and until
    # then silently unenforced
    text = pair("{ rate = 1.0, checks = 8 }").replace(
        "emission_share = 2\n\n[models.m.offerings.fp32.detection_by_tier]",
        "emission_share = 2\nthresholds = { detection_by_tier = { fp16 = 0.03 } }\n\n"
        "[models.m.offerings.fp32.detection_by_tier]",
        1,
    )
    assert "thresholds = {" in text
    with pytest.raises(TierError, match="moved to"):
        parse_registry(text, economics=False)


def test_the_shipped_registry_pays_indistinguishable_tiers_alike() -> None:
    registry = load_registry()
    checked = 0
    for name in ("shapes-64", "smollm2-135m"):
        model = registry.models[name]
        for claimed, entry in model.offerings.items():
            for run, found in entry.detection_by_tier.items():
                other = model.offerings[Precision(run)]
                if found.rate < SEPARABLE_DETECTION and TIER_RANK[run] >= TIER_RANK[claimed]:
                    checked += 1
                    assert (entry.multiplier_ppm, entry.emission_share) == (
                        other.multiplier_ppm,
                        other.emission_share,
                    ), f"{name}: {claimed}/{run}"
    assert checked  # the shipped figures hold look-alikes: the rule is exercised


def caught(rate: float) -> TierDetection:
    return TierDetection({"rate": rate}, 200)


def test_prices_follow_cost_relative_to_fp32_rounded_up_and_capped_at_fp32() -> None:
    cost = {"fp32": 2.0, "bf16": 0.682, "int8": 1.0, "fp16": 24.0}
    assert prices_from_cost(cost, {}) == {
        "fp32": 1_000_000,
        "bf16": 350_000,  # 0.341 rounded up: never below what the work costs
        "int8": 500_000,
        "fp16": 1_000_000,  # slower than fp32 here: never priced above it
    }


def test_look_alikes_share_the_highest_price_of_their_group() -> None:
    cost = {"fp32": 1.0, "fp16": 0.5, "int8": 0.4, "int4": 0.2}
    detection = {
        "fp32": {"fp16": caught(1.0), "int8": caught(0.3), "int4": caught(1.0)},
        "int8": {"int4": caught(0.1), "fp32": caught(0.0)},  # upward: no saving, no group
    }
    assert look_alikes(detection) == [{"fp32", "int8", "int4"}]
    prices = prices_from_cost(cost, detection)
    assert prices == {"fp32": 1_000_000, "fp16": 500_000, "int8": 1_000_000, "int4": 1_000_000}
    terms = {tier: TierTerms(ppm, 0) for tier, ppm in prices.items()}
    check_indistinguishable("m", terms, detection)  # what the loader would then accept


@given(
    st.dictionaries(
        st.sampled_from(["fp16", "bf16", "int8", "int4"]), st.floats(0.01, 50.0), min_size=1
    ),
    st.dictionaries(
        st.tuples(st.sampled_from(list(TIER_RANK)), st.sampled_from(list(TIER_RANK))),
        st.floats(0.0, 1.0),
    ),
)
def test_prices_from_cost_always_satisfy_the_loader(
    cost: dict[str, float], pairs: dict[tuple[str, str], float]
) -> None:
    detection: dict[str, dict[str, TierDetection]] = {}
    for (claimed, run), rate in pairs.items():
        detection.setdefault(claimed, {})[run] = caught(rate)
    prices = prices_from_cost({"fp32": 1.0, **cost}, detection)
    assert all(1 <= p <= 1_000_000 for p in prices.values()) and prices["fp32"] == 1_000_000
    for tier, c in cost.items():
        assert prices[tier] >= min(1_000_000, round(c * 1_000_000))  # never below cost
    terms = {tier: TierTerms(ppm, 0) for tier, ppm in prices.items()}
    check_indistinguishable("m", terms, detection)
