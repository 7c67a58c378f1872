"""The registry's per-offering minimum stake: optional, validated when loaded."""

from __future__ import annotations

import pytest

from swarmgen.core.offerings import Offering
from swarmgen.registry import load_registry, parse_registry

TOML = """
[models.m]
kind = "image"
backend = "echo"

[models.m.offerings.fp32]
price_multiplier = 1
{extra}
"""
M = Offering.parse("m@fp32")


def test_an_offering_without_min_stake_takes_the_coordinators() -> None:
    registry = parse_registry(TOML.format(extra=""))
    assert registry.offering(M).min_stake is None
    assert registry.min_stake(M, 5_000_000) == 5_000_000


def test_an_offering_may_ask_for_more_or_less_stake() -> None:
    assert parse_registry(TOML.format(extra="min_stake = 9")).min_stake(M, 5) == 9
    assert parse_registry(TOML.format(extra="min_stake = 0")).min_stake(M, 5) == 0


@pytest.mark.parametrize("value", ["-1", "1.5", '"5"', "true"])
def test_a_min_stake_that_is_not_a_non_negative_integer_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="min_stake"):
        parse_registry(TOML.format(extra=f"min_stake = {value}"))


def test_the_shipped_registry_sets_no_override() -> None:
    registry = load_registry()
    assert all(registry.offering(o).min_stake is None for o in registry.all_offerings())
