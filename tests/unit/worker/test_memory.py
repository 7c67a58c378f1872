"""A worker with declared memory serves only the tiers whose measured footprint fits."""

from __future__ import annotations

import logging

import pytest

from swarmgen.core.offerings import Offering
from swarmgen.registry import parse_registry
from swarmgen.worker.factory import NothingFits, choose_offerings
from swarmgen.worker.settings import WorkerSettings

TIER = 'pins = {{ library = "torch", version = ">=2", method = "dtype", dtype = "{dtype}" }}'
TOML = f"""
[models.m]
kind = "text"
backend = "transformers"

[models.m.offerings.fp32]
footprint = 900

[models.m.offerings.bf16]
footprint = 500
{TIER.format(dtype="bfloat16")}

[models.m.offerings.fp16]
{TIER.format(dtype="float16")}

[models.e]
kind = "text"
backend = "echo"
offerings.fp32 = {{ footprint = 100 }}
"""
REGISTRY = parse_registry(TOML, economics=False)


def offerings(*texts: str) -> list[Offering]:
    return [Offering.parse(t) for t in texts]


def test_fits_compares_the_footprint_with_declared_memory() -> None:
    fp32 = Offering.parse("m@fp32")
    assert REGISTRY.fits(fp32, 900) and not REGISTRY.fits(fp32, 899)
    assert REGISTRY.fits(fp32, None)  # undeclared: no limit
    assert REGISTRY.fits(Offering.parse("m@fp16"), 1)  # not measured: no limit
    assert REGISTRY.held(["m@fp32", "m@bf16", "e@fp32", "x@fp32", "nonsense"], 600) == [
        "m@bf16",
        "e@fp32",
    ]


def test_explicit_offerings_that_do_not_fit_are_dropped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("swarmgen.worker.factory")
    # a CLI test may have configured logging: stopped propagation upwards, or disabled
    # the loggers that existed then (dictConfig's disable_existing_loggers)
    logger.addHandler(caplog.handler)
    disabled, logger.disabled = logger.disabled, False
    try:
        with caplog.at_level(logging.INFO, "swarmgen.worker.factory"):
            chosen = choose_offerings(REGISTRY, ["m@fp32", "m@bf16", "e@fp32"], 600)
    finally:
        logger.removeHandler(caplog.handler)
        logger.disabled = disabled
    assert chosen == offerings("m@bf16", "e@fp32")
    assert "not serving m@fp32: it needs 900 bytes, 600 declared" in caplog.text
    assert "serving m@bf16, e@fp32 (memory 600)" in caplog.text


def test_a_bare_model_name_serves_its_most_precise_tier_that_fits() -> None:
    assert choose_offerings(REGISTRY, ["m"], 1000) == offerings("m@fp32")
    assert choose_offerings(REGISTRY, ["m"], 600) == offerings("m@bf16")
    assert choose_offerings(REGISTRY, ["m"], 400) == offerings("m@fp16")  # unmeasured
    assert choose_offerings(REGISTRY, ["m", "m@fp32"], None) == offerings("m@fp32")


def test_nothing_that_fits_or_an_unknown_name_is_refused() -> None:
    with pytest.raises(NothingFits, match="none of m@fp32, e@fp32 fits in 50 bytes"):
        choose_offerings(REGISTRY, ["m@fp32", "e@fp32"], 50)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        choose_offerings(REGISTRY, ["nope"], None)
    with pytest.raises(KeyError):
        choose_offerings(REGISTRY, ["nope@fp32"], None)


def test_memory_is_read_with_units() -> None:
    assert WorkerSettings(memory="1GB").memory == 1_000_000_000  # type: ignore[arg-type]
    assert WorkerSettings(memory="512MiB").memory == 512 * 1024 * 1024  # type: ignore[arg-type]
    assert WorkerSettings().memory is None
