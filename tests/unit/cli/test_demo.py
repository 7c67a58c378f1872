"""``swarmgen demo`` refuses what cannot tell the story before it starts anything."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from swarmgen.cli.main import app


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--cheat", "bribe"], "--cheat"),
        (["--honest", "2"], "--honest"),
        (["--cheat-rate", "1.5"], "--cheat-rate"),
        (["--images", "0"], "--images"),
        (["--chain", "--challenge-window-s", "0"], "--challenge-window-s"),
    ],
)
def test_bad_options_are_refused_before_any_process_starts(
    tmp_path: Path, args: list[str], complaint: str
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), *args])
    assert result.exit_code == 2
    assert complaint in result.output
    assert not out.exists()


@pytest.fixture
def keep_sigterm() -> Iterator[None]:
    """The command installs its own SIGTERM handler; the test process keeps its own."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


@pytest.mark.usefixtures("keep_sigterm")
def test_a_folder_no_demo_wrote_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "swarmgen.db").write_text("someone's")
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "error [conflict]" in result.output and "no demo wrote" in result.output
    assert (tmp_path / "data" / "swarmgen.db").read_text() == "someone's"


@pytest.mark.usefixtures("keep_sigterm")
def test_chain_without_anvil_is_refused_before_any_process_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("swarmgen.demo.chain.anvil_binary", lambda: None)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--chain"])
    assert result.exit_code == 2
    assert "error [chain_error]" in result.output and "anvil is missing" in result.output
    assert not out.exists()
