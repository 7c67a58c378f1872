"""The web dashboard and playground, served at ``/`` beside the APIs.

Server-rendered pages (Jinja2 templates with autoescaping, :mod:`.pages`) show the
network, the workers and the published ledger; a small script shipped in the package
(``static/dashboard.js``, no build step, nothing fetched from elsewhere) runs the
playground and the job list against the native API with the key a person enters,
kept in the browser's storage. Page errors are HTML pages (:mod:`.routing`); the one
JSON route the playground adds (:mod:`.provenance`) answers in the native shape.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from swarmgen.coordinator.faces import add_routes
from swarmgen.coordinator.faces.dashboard import pages, provenance
from swarmgen.coordinator.faces.dashboard.rendering import Renderer
from swarmgen.coordinator.faces.dashboard.services import DashboardServices
from swarmgen.coordinator.faces.native.routing import native_route
from swarmgen.coordinator.settings import CoordinatorSettings

STATIC = "/static"
HERE = Path(__file__).parent

__all__ = ["STATIC", "DashboardServices", "mount"]


def mount(app: FastAPI, services: DashboardServices, settings: CoordinatorSettings) -> None:
    """Add the pages, the playground's provenance route and the static files to ``app``."""
    renderer = Renderer(HERE / "templates", STATIC, settings)
    add_routes(app, pages.router(services, renderer))
    add_routes(app, provenance.router(services, settings, native_route(1024)))
    app.mount(STATIC, StaticFiles(directory=HERE / "static"), name="dashboard-static")
