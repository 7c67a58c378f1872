"""What ``swarmgen demo --chain`` hands the coordinator, and when it calls the run good."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from swarmgen.chain.settings import ChainSettings
from swarmgen.demo.chain import (
    COORDINATOR,
    ChainReport,
    DemoChain,
    SealOnChain,
    SlashOnChain,
)

SEAL = SealOnChain(0, "ab" * 32, "ab" * 32, [], "0x01")
SLASH = SlashOnChain(1, "mal", 0, 10, "cd" * 32, "executed", 100, 90, "0x02")
VERIFIED = {"ok": True, "chain": {"ok": True, "checked": 1}}


def _chain() -> DemoChain:
    chain = DemoChain(window_s=3, binary=Path("anvil"))
    chain.report = ChainReport("http://127.0.0.1:8545", "0x" + "11" * 20, "0x" + "22" * 20, 3)
    return chain


def test_the_coordinator_reads_the_demo_settings_from_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain = _chain()
    for name, value in chain.env().items():
        monkeypatch.setenv(name, value)
    read = ChainSettings()
    assert read == chain.settings and read.enabled
    assert (read.private_key, read.stake_pin_lag_s) == (COORDINATOR, 0)


@pytest.mark.parametrize("window_s", [0, 3600])
def test_a_window_the_contract_would_refuse_is_refused(window_s: int) -> None:
    with pytest.raises(ValueError, match="challenge window"):
        DemoChain(window_s=window_s, binary=Path("anvil"))


def test_the_run_is_good_only_with_seal_slash_and_verification_all_good() -> None:
    report = _chain().report
    assert report is not None
    good = replace(report, seal=SEAL, slash=SLASH, verify=VERIFIED)
    assert good.ok
    assert not replace(good, seal=replace(SEAL, differences=["root"])).ok
    assert not replace(good, slash=None).ok
    assert not replace(good, slash=replace(SLASH, state="pending")).ok
    assert not replace(good, verify={"ok": True, "chain": {"ok": False}}).ok
    assert not replace(good, verify={"ok": False, "chain": {"ok": True}}).ok
