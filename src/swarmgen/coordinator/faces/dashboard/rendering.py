"""Pages from templates: one Jinja2 environment with autoescaping on, shared filters,
and the headers every page carries.

Everything a page shows that a worker or requester chose (a worker's name, a model
name, a ledger memo) goes through autoescaping; no template marks anything ``safe``.
The content security policy allows scripts, styles and images from this origin only
(and ``blob:`` images, for results the playground fetches with the key), so even a
markup slip could not run an injected script.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

import swarmgen
from swarmgen.coordinator.settings import CoordinatorSettings

MICRO = 1_000_000
"""Micro-credits per credit."""

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def credits(micro: int) -> str:
    """Micro-credits as credits with six decimals: ``1234567`` -> ``1.234567``."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    return f"{sign}{whole:,}.{frac:06d}"


def when(ms: int | None) -> str:
    """A time in ms since the epoch as UTC, to the second."""
    if ms is None or ms <= 0:
        return "never"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short(text: str, keep: int = 12) -> str:
    """A long id cut to its first ``keep`` characters and an ellipsis."""
    return text if len(text) <= keep + 1 else text[:keep] + "…"


class Renderer:
    def __init__(self, templates: Path, static: str, settings: CoordinatorSettings) -> None:
        self.env = Environment(
            loader=FileSystemLoader(templates),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(credits=credits, when=when, short=short)
        self.env.globals.update(
            static=static,
            version=swarmgen.__version__,
            anonymous_key=settings.anonymous_key or "",
        )

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def error(self, status: int, title: str, problems: list[str]) -> HTMLResponse:
        return self.page("error.html", status, title=title, problems=problems, active="")
