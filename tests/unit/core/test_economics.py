"""The economic rule at its boundary, and what the registry and the coordinator refuse."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from swarmgen.cli.main import app as cli
from swarmgen.coordinator.bootstrap import build_services, check_settings, prepare
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.economics import (
    DEFAULT_DETECTION,
    EconomicsError,
    Terms,
    is_precision_swap,
    lowest_detection,
)
from swarmgen.core.verification.escalation import rejection_probability
from swarmgen.registry import check_economics, economic_terms, load_registry, parse_registry


def terms(**changed: object) -> Terms:
    values: dict[str, object] = dict(
        min_sampling_rate=0.01,
        detection=0.5,
        validator_fee_ppm=0,
        slash_ppm=100_000,
        min_stake=5_000_000,
    )
    values.update(changed)
    return Terms(**values)  # type: ignore[arg-type]


def test_the_rule_at_its_boundary() -> None:
    # p = 0.5, F = P, S = 1000: p × (P + 1000) > P  ⟺  P < 1000
    rule = terms(min_sampling_rate=1.0, detection=0.5, slash_ppm=1_000_000, min_stake=1000)
    assert rule.covered_price() == pytest.approx(1000)
    assert rule.holds(999)
    assert not rule.holds(1000)  # equal is not a losing bet
    assert not rule.holds(1001)
    assert rule.expected_loss(1000) == rule.saved(1000) == 1000


@given(
    rate=st.floats(0.001, 1.0),
    detection=st.floats(0.01, 1.0),
    slash_ppm=st.integers(0, 1_000_000),
    stake=st.integers(0, 10**9),
    fee=st.integers(0, 1_000_000),
    saving=st.floats(0.01, 1.0),
)
def test_the_covered_price_separates_losing_bets_from_winning_ones(
    rate: float, detection: float, slash_ppm: int, stake: int, fee: int, saving: float
) -> None:
    rule = terms(
        min_sampling_rate=rate,
        detection=detection,
        slash_ppm=slash_ppm,
        min_stake=stake,
        validator_fee_ppm=fee,
        saving=saving,
    )
    covered = rule.covered_price()
    if math.isinf(covered):
        assert rule.holds(10**12) or rule.slash == 0
        return
    assume(rule.slash >= 10_000)  # else a micro-credit of rounding in F weighs as much as S
    assume(covered < 1e12)  # else floating point cannot tell the margin from zero
    below, above = math.floor(covered * 0.999) - 1, math.ceil(covered * 1.001) + 1
    if below >= 1:
        assert rule.holds(below)
    assert not rule.holds(above)


def test_more_stake_more_slash_or_more_checks_never_break_the_rule() -> None:
    base = terms()
    price = 1500
    assert base.holds(price)
    for stronger in (
        terms(min_stake=6_000_000),
        terms(slash_ppm=200_000),
        terms(min_sampling_rate=0.02),
        terms(detection=0.9),
    ):
        assert stronger.expected_loss(price) > base.expected_loss(price)
    assert not terms(slash_ppm=0).holds(price)  # the forfeit alone never pays for a cheat


def test_precision_swaps_are_left_out_of_the_detection_figure() -> None:
    assert is_precision_swap("int8") and is_precision_swap("bf16")
    assert not is_precision_swap("fewer-steps")
    figures = [{"int8": 0.0, "copy": 0.99}, {"truncated": 0.96, "bf16": 0.5}]
    assert lowest_detection(figures) == 0.96
    assert lowest_detection([{"altered-prompt": 0.1, "noise": 0.9}]) == 0.9  # saves nothing
    assert lowest_detection([{"int8": 0.1}]) is None


def test_bad_terms_are_refused_by_name() -> None:
    with pytest.raises(EconomicsError, match=r"detection=1\.5"):
        terms(detection=1.5)
    with pytest.raises(EconomicsError, match="slash_ppm"):
        terms(slash_ppm=2_000_000)


def test_the_shipped_defaults_satisfy_the_rule() -> None:
    registry = load_registry()
    rule = economic_terms(registry)
    # echo offerings hold no calibration: the conservative default decides
    assert rule.detection == rejection_probability(DEFAULT_DETECTION)
    check_economics(registry)
    check_settings(CoordinatorSettings(), registry)


LOW_DETECTION = """
[pricing]
image_per_mpixel_step = 10000
text_per_ktoken = 10000

[models.m]
kind = "image"
backend = "echo"
source = "builtin:echo"

[models.m.offerings.fp32]
price_multiplier = 1

[models.m.offerings.fp32.thresholds]
detection_by_cheat = { int8 = 0.0, fewer-steps = DETECTION }
"""


def test_the_registry_loader_refuses_a_detection_too_low_to_price_a_cheat() -> None:
    parse_registry(LOW_DETECTION.replace("DETECTION", "0.9"))  # int8 alone is no refusal
    with pytest.raises(EconomicsError) as refused:
        parse_registry(LOW_DETECTION.replace("DETECTION", "0.05"))
    message = refused.value.message
    assert "cheating pays on a reference job of m@fp32" in message
    assert "slash_ppm=100000" in message and "min_stake=5000000" in message


def test_the_calibration_tool_may_load_a_refused_registry_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(LOW_DETECTION.replace("DETECTION", "0.05"))
    with pytest.raises(EconomicsError):
        load_registry(path)
    assert load_registry(path, economics=False).models["m"].kind == "image"


def test_prepare_refuses_before_migrating(tmp_path: Path) -> None:
    with pytest.raises(EconomicsError, match="min_stake=5000000"):
        prepare(CoordinatorSettings(data=tmp_path, validator_fee_ppm=0, slash_ppm=1))
    assert not (tmp_path / "swarmgen.db").exists()


def test_the_registry_loader_refuses_a_price_the_stake_cannot_cover() -> None:
    costly = LOW_DETECTION.replace("DETECTION", "0.9").replace(
        "price_multiplier = 1", "price_multiplier = 100"
    )
    with pytest.raises(EconomicsError, match="saved = 81920"):
        parse_registry(costly)


def test_the_coordinator_refuses_settings_that_make_cheating_pay(tmp_path: Path) -> None:
    settings = CoordinatorSettings(data=tmp_path, slash_ppm=0)
    with pytest.raises(EconomicsError, match="slash_ppm=0"):
        build_services(settings)
    assert not (tmp_path / "swarmgen.db").exists()  # refused before touching the store


@pytest.mark.parametrize("exempt", [{"verify": False}, {"trusted_workers": True}])
def test_nothing_is_refused_without_checks_or_among_trusted_workers(
    tmp_path: Path, exempt: dict[str, bool]
) -> None:
    settings = CoordinatorSettings(data=tmp_path, slash_ppm=0, min_stake=0, **exempt)
    check_settings(settings, load_registry(settings.registry))  # no EconomicsError
    with pytest.raises(EconomicsError, match="min_stake=0"):
        check_settings(
            settings.model_copy(update={"verify": True, "trusted_workers": False}),
            load_registry(settings.registry),
        )


def test_the_coordinator_command_exits_with_the_values_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWARMGEN_SLASH_PPM", "1000")
    result = CliRunner().invoke(cli, ["coordinator", "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "error [economics_violated]: cheating pays" in result.output
    assert "slash_ppm=1000" in result.output and "min_stake=5000000" in result.output


@given(st.integers(1, 10**9))
def test_checked_at_its_required_rate_every_price_is_a_losing_bet(price: int) -> None:
    rule = terms(validator_fee_ppm=50_000)
    rate = rule.required_rate(price)
    assert 0.0 < rate <= 1.0
    at_that_rate = Terms(**{**rule.__dict__, "min_sampling_rate": rate})
    assert at_that_rate.holds(price) or rate == 1.0
    if price < rule.covered_price() / 2:  # the floor prices it with room: no extra checks
        assert rate < rule.min_sampling_rate


def test_a_price_no_check_rate_can_cover_is_checked_every_time() -> None:
    assert terms(detection=0.0).required_rate(1_000) == 1.0
    assert terms(slash_ppm=0, validator_fee_ppm=0, detection=0.5).required_rate(1_000) == 1.0


def test_the_coordinators_draw_carries_the_terms_unless_its_workers_are_trusted(
    tmp_path: Path,
) -> None:
    from swarmgen.clock import FakeClock
    from swarmgen.store.memory import MemoryStore

    def verifier_terms(**settings: object) -> Terms | None:
        built = build_services(
            CoordinatorSettings(data=tmp_path, **settings),  # type: ignore[arg-type]
            store=MemoryStore(),
            clock=FakeClock(),
        )
        assert built.verifier is not None
        return built.verifier.economics

    drawn = verifier_terms()
    assert drawn is not None and drawn.min_stake == 5_000_000
    big = 52_429  # a 512x512, 20-step tiny-sd image: above what the floor covers
    assert big > drawn.covered_price() and drawn.required_rate(big) > drawn.min_sampling_rate
    assert verifier_terms(trusted_workers=True, min_stake=0) is None
