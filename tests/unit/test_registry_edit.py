"""Storing calibrated thresholds rewrites one model's tables and nothing else."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

from swarmgen.core.offerings import Offering
from swarmgen.core.verification import ImageThresholds
from swarmgen.registry import load_registry
from swarmgen.registry_edit import (
    RegistryEditError,
    set_detection_by_tier,
    set_thresholds,
    set_tier_figures,
)

TINY = Offering.parse("tiny-sd@fp32")
TABLE = {
    "phash": 0.03125,
    "pixel": 0.005,
    "false_positive": 0.0,
    "honest_samples": 400,
    "detection_by_cheat": {"wrong-seed": 1.0, "int8": 0.25},
}

TEXT = """\
# top comment
[pricing]
minimum = 1  # the least any job costs

[models.a]
kind = "image"
backend = "echo"
offerings.fp32 = { price_multiplier = 2 }
offerings.int8 = { price_multiplier = 1 }

# the text model
[models."b-1"]
kind = "text"
backend = "echo"

[models."b-1".offerings.fp32]
price_multiplier = 1

[models."b-1".offerings.fp32.thresholds]
max_distance = 0.5
"""


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(resources.files("swarmgen").joinpath("models.toml").read_text("utf-8"))
    return path


def test_thresholds_land_where_the_registry_reads_them(shipped: Path) -> None:
    set_thresholds(shipped, TINY, TABLE)
    entry = load_registry(shipped).offering(TINY)
    assert entry.thresholds == TABLE
    assert entry.price_multiplier == 1 and entry.emission_share == 1
    assert ImageThresholds.from_mapping(entry.thresholds).phash == TABLE["phash"]


def test_a_recalibration_keeps_the_measured_detection_of_lower_tiers(shipped: Path) -> None:
    shapes = Offering.parse("shapes-64@fp32")
    figures = {"fp16": {"rate": 0.5, "checks": 200}, "int4": {"rate": 1.0, "checks": 200}}
    set_detection_by_tier(shipped, shapes, figures)
    set_thresholds(shipped, shapes, TABLE)  # what `swarmgen calibrate` does
    entry = load_registry(shipped, economics=False).offering(shapes)
    assert entry.thresholds == TABLE
    assert {run: (d.rate, d.checks) for run, d in entry.detection_by_tier.items()} == {
        "fp16": (0.5, 200),
        "int4": (1.0, 200),
    }
    assert '[models."shapes-64".offerings.fp32.detection_by_tier]' in shipped.read_text()


def test_measured_footprint_and_quality_replace_the_old_and_keep_the_rest(shipped: Path) -> None:
    int4 = Offering.parse("shapes-64@int4")
    before = load_registry(shipped, economics=False).offering(int4)
    set_tier_figures(shipped, int4, 545_386_496, {"psnr_db": 24.8156, "ssim": 0.9035})
    fp32 = Offering.parse("shapes-64@fp32")
    set_tier_figures(shipped, fp32, 530_399_232, None)  # the reference has no quality
    registry = load_registry(shipped, economics=False)
    after = registry.offering(int4)
    assert after.footprint == 545_386_496 and after.quality == {"psnr_db": 24.8156, "ssim": 0.9035}
    assert (after.pins, after.price_multiplier) == (before.pins, before.price_multiplier)
    assert registry.offering(fp32).footprint == 530_399_232 and not registry.offering(fp32).quality


def test_other_models_and_comments_are_untouched(shipped: Path) -> None:
    before = shipped.read_text("utf-8")
    set_thresholds(shipped, TINY, TABLE)
    after = shipped.read_text("utf-8")
    old = tomllib.loads(before)["models"]
    new = tomllib.loads(after)["models"]
    assert {k: v for k, v in old.items() if k != "tiny-sd"} == {
        k: v for k, v in new.items() if k != "tiny-sd"
    }
    comments = [line for line in before.splitlines() if line.startswith("#")]
    assert comments == [line for line in after.splitlines() if line.startswith("#")]


def test_rewriting_is_idempotent(shipped: Path) -> None:
    set_thresholds(shipped, TINY, TABLE)
    once = shipped.read_text("utf-8")
    set_thresholds(shipped, TINY, TABLE)
    assert shipped.read_text("utf-8") == once


def test_inline_offerings_and_existing_sub_tables_are_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text(TEXT)
    set_thresholds(path, Offering.parse("a@int8"), {"pixel": 0.01})
    set_thresholds(path, Offering.parse("b-1@fp32"), {"max_distance": 0.02})
    data = tomllib.loads(path.read_text())
    assert data["models"]["a"]["offerings"]["int8"]["thresholds"] == {"pixel": 0.01}
    assert data["models"]["a"]["offerings"]["fp32"] == {"price_multiplier": 2}
    assert data["models"]["b-1"]["offerings"]["fp32"]["thresholds"] == {"max_distance": 0.02}
    text = path.read_text()
    assert "# top comment" in text and "# the text model" in text
    assert "minimum = 1  # the least any job costs" in text


@pytest.mark.parametrize("offering", ["nope@fp32", "a@fp16"])
def test_unknown_models_and_precisions_are_refused(tmp_path: Path, offering: str) -> None:
    path = tmp_path / "r.toml"
    path.write_text(TEXT)
    with pytest.raises(RegistryEditError):
        set_thresholds(path, Offering.parse(offering), {"pixel": 0.01})
    assert path.read_text() == TEXT


def test_values_toml_cannot_hold_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text(TEXT)
    with pytest.raises(RegistryEditError):
        set_thresholds(path, Offering.parse("a@fp32"), {"pixel": float("nan")})
    assert path.read_text() == TEXT
