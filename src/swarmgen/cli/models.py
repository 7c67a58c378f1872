"""``swarmgen models``: train, install and evaluate the built-in shapes-64 image model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from swarmgen.cli.common import given

models_app = typer.Typer(help="Train and evaluate the built-in models.", no_args_is_help=True)
_console = Console(stderr=True)


def _default_out() -> Path:
    return Path.home() / ".cache" / "swarmgen" / "shapes-64-train"


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeRemainingColumn(),
        console=_console,
    )


@models_app.command("train-shapes")
def train_shapes(
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default ~/.cache/swarmgen/shapes-64-train)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of data, initial weights and noise. Default 0.")
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option(
            min=1, help="Data-parallel training processes; fix it to reproduce a run. Default 2."
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1, help="torch threads per process; fix it to reproduce a run. Default 1."
        ),
    ] = None,
    images: Annotated[
        int | None, typer.Option(help="Training scenes rendered. Default 8000.")
    ] = None,
    vae_steps: Annotated[
        int | None, typer.Option(help="Autoencoder optimiser steps. Default 1200.")
    ] = None,
    unet_steps: Annotated[
        int | None, typer.Option(help="UNet + text encoder optimiser steps. Default 4400.")
    ] = None,
    shape_weight: Annotated[
        float | None,
        typer.Option(
            help="Extra diffusion-loss weight where a shape lies (0: uniform). Default 3."
        ),
    ] = None,
    place_weight: Annotated[
        float | None,
        typer.Option(
            help="Weight of the text encoder's shape-placement loss (0 turns it off). Default 0.15."
        ),
    ] = None,
    install: Annotated[
        bool, typer.Option(help="Copy the trained model into the package's shipped folder.")
    ] = False,
) -> None:
    """Train shapes-64 from scratch on CPU; writes the pipeline, loss.jsonl and train.json."""
    from swarmgen.shapes import model_dir
    from swarmgen.tools.shapes.train import TrainConfig, train

    try:
        config = TrainConfig(
            **given(
                seed=seed,
                processes=processes,
                threads=threads,
                images=images,
                vae_steps=vae_steps,
                unet_steps=unet_steps,
                shape_weight=shape_weight,
                place_weight=place_weight,
            )
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    out_dir = out or _default_out()
    with _progress() as progress:
        tasks = {
            "vae": progress.add_task("autoencoder", total=config.vae_steps, note=""),
            "unet": progress.add_task("unet", total=config.unet_steps, note=""),
        }

        def on_step(phase: str, step: int, total: int, loss: float) -> None:
            progress.update(tasks[phase], completed=step + 1, note=f"loss {loss:.4f}")

        result = train(config, out_dir, on_step)
    _console.print(f"saved {result.folder} in {result.seconds:.0f} s; loss log {result.loss_log}")
    if install:
        target = model_dir()
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(result.folder, target)
        _console.print(f"installed into {target}")
    typer.echo(json.dumps({"folder": str(result.folder), "seconds": round(result.seconds, 1)}))


@models_app.command("eval-shapes")
def eval_shapes(
    model: Annotated[
        Path | None, typer.Option(help="Pipeline folder (default: the shipped shapes-64).")
    ] = None,
    prompts: Annotated[int, typer.Option(help="Held-out prompts to generate and check.")] = 240,
    steps: Annotated[int, typer.Option(help="Denoising steps per image.")] = 20,
    threads: Annotated[int, typer.Option(help="torch threads while generating.")] = 2,
    grid: Annotated[
        Path | None,
        typer.Option(help="Write a sample grid PNG here (prompts go next to it as .txt)."),
    ] = None,
    grid_size: Annotated[int, typer.Option(help="Images in the sample grid.")] = 32,
) -> None:
    """Generate held-out prompts, read the images back; last line is a JSON report."""
    from swarmgen.shapes import model_dir
    from swarmgen.tools.shapes.evaluate import evaluate, held_out_prompts, save_grid
    from swarmgen.tools.shapes.pipeline import load_pipeline

    pipe = load_pipeline(model or model_dir())
    with _progress() as progress:
        task = progress.add_task("generating", total=prompts, note="")
        report, samples = evaluate(
            pipe,
            held_out_prompts(prompts),
            threads=threads,
            steps=steps,
            on_sample=lambda _: progress.advance(task),
        )
    if grid is not None:
        text = save_grid(samples[:grid_size], grid)
        _console.print(f"wrote {grid} and {text}")
    typer.echo(json.dumps(report.as_dict()))
