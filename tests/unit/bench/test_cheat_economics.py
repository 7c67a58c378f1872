from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).parents[3] / "bench" / "cheat_economics.py"


@pytest.fixture(scope="module")
def economics() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cheat_economics", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def small(module: ModuleType, **changes: object) -> Any:
    return replace(module.Economics(), runs=20, epochs=40, **changes)


def test_every_cheat_loses_at_the_default_detection(economics: ModuleType) -> None:
    results, summary = economics.run(small(economics), {})
    assert summary["all_cheats_lose"] is True
    assert summary["worst_cheat_margin"] < 0
    assert len(results) == 1 + len(economics.CHEATS) * 2 * len(economics.CHEAT_RATES)


def test_an_undetectable_cheat_wins(economics: ModuleType) -> None:
    _, summary = economics.run(small(economics), {"skip-compute": 0.0})
    assert summary["all_cheats_lose"] is False
    assert summary["worst_cheat"].startswith("skip-compute")


def test_honest_workers_are_not_convicted(economics: ModuleType) -> None:
    econ = small(economics)
    results, summary = economics.run(econ, {})
    assert summary["honest_invalid_epochs"] == 0.0
    profit = econ.epochs * econ.jobs_per_epoch * (econ.fee - econ.compute_cost)
    assert results[0].mean == pytest.approx(profit)


def test_seat_capture_rule_and_draw_agree_and_three_first_seats_meet_the_target(
    economics: ModuleType,
) -> None:
    text, summary = economics.seat_capture(economics.Economics(), trials=400)
    policies = summary["policies"]
    single, drawn = policies["1-3-5"]["upheld"]["10%"], policies["3-5-7"]["upheld"]["10%"]
    assert single["rule"] > 0.10 and abs(single["draw"] - single["rule"]) < 0.05
    assert drawn["rule"] < economics.SEAT_TARGET and drawn["draw"] < 0.02
    assert summary["first_meeting_target"] == [3, 5, 7] == summary["default_panel"]
    assert policies["3-5-7"]["seats_per_check"] > 3 > policies["1-3-5"]["seats_per_check"]
    assert "3-5-7" in text


def test_an_adversary_holding_every_seat_upholds_every_cheat(economics: ModuleType) -> None:
    policy = economics.EscalationPolicy()
    assert economics.upheld_share(1.0, policy, 0.99) == pytest.approx(1.0)
    assert economics.upheld_share(0.0, policy, 1.0) == pytest.approx(0.0)


def test_key_rotation_wins_per_key_and_loses_per_owner(economics: ModuleType) -> None:
    rot = economics.Rotation(keys=5)
    out = economics.rotation_section(small(economics), {}, rot)
    assert out["rotation_per_key_no_stake_all_lose"] is False  # before: spreading paid
    assert out["rotation_per_owner_all_lose"] is True
    assert out["rotation_per_owner_worst_margin"] < 0
    assert out["rotation_rule"]["holds"] is True


def test_key_rotation_wins_per_owner_when_nothing_is_detected(economics: ModuleType) -> None:
    out = economics.rotation_section(
        small(economics), {"skip-compute": 0.0}, economics.Rotation(keys=5)
    )
    assert out["rotation_per_owner_all_lose"] is False
