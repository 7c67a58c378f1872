"""`swarmgen models train-shapes` and `eval-shapes` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from swarmgen.cli.main import app

pytestmark = pytest.mark.models


def _last_json(output: str) -> dict[str, object]:
    line = output.strip().splitlines()[-1]
    document: dict[str, object] = json.loads(line)
    return document


def test_train_then_evaluate_a_miniature_model(tmp_path: Path) -> None:
    runner = CliRunner()
    tiny = ["--images", "8", "--vae-steps", "2", "--unet-steps", "2"]
    trained = runner.invoke(app, ["models", "train-shapes", "--out", str(tmp_path), *tiny])
    assert trained.exit_code == 0, trained.output
    folder = Path(str(_last_json(trained.output)["folder"]))
    assert folder == tmp_path / "shapes-64"
    summary = json.loads((tmp_path / "train.json").read_text("utf-8"))
    assert summary["processes"] == 2 and summary["unet_steps"] == 2
    rows = (tmp_path / "loss.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(row)["phase"] for row in rows] == ["vae"] * 2 + ["unet"] * 2

    grid = tmp_path / "grid.png"
    sample = ["--prompts", "2", "--grid", str(grid), "--threads", "1"]
    evaluated = runner.invoke(app, ["models", "eval-shapes", "--model", str(folder), *sample])
    assert evaluated.exit_code == 0, evaluated.output
    report = _last_json(evaluated.output)
    assert report["prompts"] == 2
    for key in ("color_accuracy", "background_accuracy", "count_accuracy"):
        assert 0.0 <= float(str(report[key])) <= 1.0
    assert float(str(report["seconds_per_image"])) > 0.0
    by_shapes = report["color_by_shapes"]
    assert isinstance(by_shapes, dict)
    assert sum(int(share.split("/")[1]) for share in by_shapes.values()) == 2
    assert grid.stat().st_size > 0
    listed = grid.with_suffix(".txt").read_text("utf-8").splitlines()
    assert listed[0].startswith("#") and len(listed) == 1 + 2


@pytest.mark.parametrize(
    ("options", "complaint"),
    [(["--processes", "3"], "vae_batch must be a multiple"), (["--threads", "0"], "--threads")],
)
def test_a_training_run_that_cannot_split_is_refused(
    tmp_path: Path, options: list[str], complaint: str
) -> None:
    refused = CliRunner().invoke(app, ["models", "train-shapes", "--out", str(tmp_path), *options])
    assert refused.exit_code == 2
    assert complaint in refused.output
    assert not any(tmp_path.iterdir())
