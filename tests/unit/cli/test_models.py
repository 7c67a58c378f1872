"""`swarmgen models train-shapes` states the training recipe's defaults without importing it."""

from __future__ import annotations

import dataclasses
import re

from typer.testing import CliRunner

from swarmgen.cli.main import app
from swarmgen.tools.shapes.train import TrainConfig

OPTIONS = {
    "seed": "--seed",
    "processes": "--processes",
    "threads": "--threads",
    "images": "--images",
    "vae_steps": "--vae-steps",
    "unet_steps": "--unet-steps",
    "shape_weight": "--shape-weight",
    "place_weight": "--place-weight",
}


def test_the_help_shows_the_recipe_defaults() -> None:
    shown = CliRunner().invoke(app, ["models", "train-shapes", "--help"], env={"COLUMNS": "400"})
    assert shown.exit_code == 0, shown.output
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", shown.output).split())
    recipe = dataclasses.asdict(TrainConfig())
    for name, option in OPTIONS.items():
        stated = re.search(re.escape(option) + r" .*?Default ([0-9.]+)\.", text)
        assert stated is not None, option
        assert float(stated.group(1)) == float(recipe[name]), option
