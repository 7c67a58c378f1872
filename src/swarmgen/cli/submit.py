"""``swarmgen submit``: send one job, wait for it, save the result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from swarmgen.core.scheduling import POSITION_CAP
from swarmgen.sdk.client import Client, SwarmgenAPIError, image_job, text_job

console = Console(stderr=True)


def place(position: int) -> str:
    """A job's place in its queue as a person reads it: the coordinator counts places up
    to ``POSITION_CAP``, which means that many or more."""
    return f"{position} or more" if position >= POSITION_CAP else str(position)


def submit(
    model: Annotated[str, typer.Option(help="Offering, name@precision, e.g. shapes-64@fp32.")],
    prompt: Annotated[str, typer.Option(help="The prompt (image or text).")],
    api_key: Annotated[
        str, typer.Option(envvar="SWARMGEN_API_KEY", help="Your API key (or SWARMGEN_API_KEY).")
    ],
    coordinator: Annotated[
        str, typer.Option(envvar="SWARMGEN_COORDINATOR_URL", help="Coordinator URL.")
    ] = "http://127.0.0.1:8787",
    kind: Annotated[str, typer.Option(help="image or text; guessed from --out if omitted.")] = "",
    negative_prompt: Annotated[str, typer.Option(help="Image: what to avoid.")] = "",
    width: Annotated[int, typer.Option(help="Image width, multiple of 8.")] = 64,
    height: Annotated[int, typer.Option(help="Image height, multiple of 8.")] = 64,
    steps: Annotated[int, typer.Option(help="Image: denoising steps.")] = 20,
    guidance: Annotated[float, typer.Option(help="Image: classifier-free guidance.")] = 7.5,
    n: Annotated[int, typer.Option(help="Image: how many images.")] = 1,
    max_tokens: Annotated[int, typer.Option(help="Text: most tokens to generate.")] = 64,
    temperature: Annotated[float, typer.Option(help="Text: 0 is greedy.")] = 0.0,
    top_p: Annotated[float, typer.Option(help="Text: nucleus sampling mass.")] = 1.0,
    seed: Annotated[
        int | None, typer.Option(help="Seed; the coordinator picks one if unset.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Where to save the result (PNG or .txt); default stdout.")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the result.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 600,
) -> None:
    """Submit a job to a coordinator and (by default) wait for and save its result."""
    if not kind:
        kind = "image" if out is not None and out.suffix.lower() == ".png" else "text"
    body: dict[str, Any]
    if kind == "image":
        body = image_job(
            prompt, model, negative_prompt=negative_prompt, width=width, height=height,
            steps=steps, guidance=guidance, n=n, seed=seed,
        )  # fmt: skip
    else:
        body = text_job(
            model, prompt=prompt, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
            seed=seed,
        )  # fmt: skip
    with Client(coordinator, api_key) as client:
        try:
            accepted = client.submit(body)
            where = place(accepted["queue_position"])
            console.print(f"queued {accepted['id']} at position {where}")
            if not wait:
                print(json.dumps(accepted))
                return
            with console.status(f"waiting for {accepted['id']}"):
                view = client.wait(accepted["id"], timeout)
            if view["state"] != "completed":
                console.print(f"[red]job ended {view['state']}[/red]: {view.get('error') or ''}")
                raise typer.Exit(1)
            for index in range(max(1, view["outputs"])):
                data = client.result(accepted["id"], index)
                if out is None:
                    print(data.decode("utf-8") if kind == "text" else f"<{len(data)} bytes PNG>")
                    continue
                target = out if index == 0 else out.with_stem(f"{out.stem}-{index}")
                target.write_bytes(data)
                console.print(f"saved {target}")
        except SwarmgenAPIError as exc:
            console.print(f"[red]{exc}[/red]")
            for problem in exc.details.get("fields", []):
                console.print(f"  {problem}")
            raise typer.Exit(2) from None
