"""``swarmgen demo``."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from swarmgen.cli.common import reports_errors

if TYPE_CHECKING:
    from swarmgen.demo import DemoReport
    from swarmgen.demo.chain import DemoChain


@reports_errors
def demo(
    out: Annotated[Path, typer.Option(help="Output folder; data lives in OUT/data.")] = Path(
        "demo-out"
    ),
    image_model: Annotated[str, typer.Option(help="Image offering.")] = "shapes-64@fp32",
    text_model: Annotated[str, typer.Option(help="Text offering.")] = "smollm2-135m@fp32",
    honest: Annotated[
        int,
        typer.Option(
            min=3,
            max=6,
            help="Honest workers, each of its own owner (a check's first panel needs three "
            "owners besides the claimant's).",
        ),
    ] = 3,
    cheat: Annotated[
        str, typer.Option(help="How the cheating worker cheats (a cheat of the cheater zoo).")
    ] = "noise",
    cheat_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the jobs it fits it cheats on.")
    ] = 1.0,
    images: Annotated[int, typer.Option(min=1, max=64, help="Image jobs.")] = 12,
    texts: Annotated[int, typer.Option(min=0, max=64, help="Text jobs.")] = 3,
    steps: Annotated[int, typer.Option(min=1, max=50, help="Denoising steps per image.")] = 20,
    max_tokens: Annotated[int, typer.Option(min=1, max=256, help="Tokens per text.")] = 48,
    epoch_s: Annotated[
        int,
        typer.Option(
            min=60,
            help="The coordinator's epoch length in seconds (the demo closes the first "
            "epoch itself; with --serve the next ones close on time).",
        ),
    ] = 3600,
    lease_min_s: Annotated[
        int,
        typer.Option(
            min=1,
            help="The coordinator's shortest lease in seconds (long: CPU workers on a busy "
            "machine are slow, and heartbeats keep a lease for at most three of these).",
        ),
    ] = 120,
    serve: Annotated[
        bool,
        typer.Option("--serve", help="Keep the swarm running for a browser until Ctrl-C."),
    ] = False,
    chain: Annotated[
        bool,
        typer.Option(
            "--chain",
            help="Stake, seal and slash on a local EVM node (anvil): the owners stake on "
            "chain, the seal is read back, the cheater's slash executes after its window.",
        ),
    ] = False,
    challenge_window_s: Annotated[
        int,
        typer.Option(
            min=1,
            max=600,
            help="With --chain: seconds the cheater's owner has to dispute its slash.",
        ),
    ] = 5,
) -> None:
    """Run a local swarm with one cheating worker through a whole epoch.

    Starts a coordinator, honest workers and a cheater (each of its own owner, staked),
    submits image and text jobs, waits for the validators, closes the epoch, and shows
    the cheater's verdict, the requester's refunds, each worker's earnings and the
    verified ledger export. Outputs and their prompts go to OUT/summary.json. With
    --chain, the same story on a local EVM node; the node stops with the demo.
    """
    from swarmgen.demo import DemoSettings, run_demo
    from swarmgen.tools.cheats import Cheat

    if cheat not in {str(c) for c in Cheat}:
        raise typer.BadParameter(f"one of {', '.join(map(str, Cheat))}", param_hint="--cheat")
    settings = DemoSettings(
        image_model=image_model,
        text_model=text_model,
        honest=honest,
        cheat=cheat,
        cheat_rate=cheat_rate,
        images=images,
        texts=texts,
        steps=steps,
        max_tokens=max_tokens,
        epoch_s=epoch_s,
        lease_min_s=lease_min_s,
    )
    # SIGTERM unwinds like Ctrl-C, so the local swarm's processes are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    console = Console(width=None if sys.stdout.isatty() else 120)
    with _chain(chain, challenge_window_s) as on_chain:
        report = run_demo(
            out,
            settings,
            console=console,
            serve=_serve(console) if serve else None,
            chain=on_chain,
        )
    if (
        any(r.status != "completed" for r in report.records)
        or not (report.ledger and report.ledger.ok)
        or (chain and not (report.chain and report.chain.ok))
    ):
        raise typer.Exit(1)


def _chain(wanted: bool, window_s: int) -> contextlib.AbstractContextManager[DemoChain | None]:
    """The demo's chain (checked for anvil before anything starts), or none."""
    if not wanted:
        return contextlib.nullcontext()
    from swarmgen.demo.chain import DemoChain

    return DemoChain(window_s=window_s)


def _serve(console: Console) -> Callable[[DemoReport], None]:
    def wait(report: DemoReport) -> None:
        console.print(f"\nserving {report.dashboard} until Ctrl-C")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            console.print("stopping the swarm")

    return wait
