"""The OpenAI-compatible face: ``/v1`` beside the native ``/api/v1``.

``mount(app, services, settings)`` adds ``/v1/models``, ``/v1/chat/completions``,
``/v1/completions``, ``/v1/images/generations`` and the signed image links. Its routes
answer errors in OpenAI's shape (:mod:`.errors`); unknown ``/v1`` paths get that shape
too, through :data:`PREFIX` and :func:`routing_error` in the app's fallback. Requests
become the job service's domain types; every answer carries a ``swarmgen`` object
(job id, worker, receipt digest, verification state).
"""

from __future__ import annotations

from fastapi import FastAPI

from swarmgen.coordinator.faces import add_routes
from swarmgen.coordinator.faces.openai import images, models, text
from swarmgen.coordinator.faces.openai.errors import routing as routing_error
from swarmgen.coordinator.faces.openai.links import Links
from swarmgen.coordinator.faces.openai.routing import openai_route
from swarmgen.coordinator.faces.openai.running import OpenAIServices, Runner
from swarmgen.coordinator.settings import CoordinatorSettings

PREFIX = "/v1"

__all__ = ["PREFIX", "OpenAIServices", "mount", "routing_error"]


def mount(app: FastAPI, services: OpenAIServices, settings: CoordinatorSettings) -> None:
    """Add the ``/v1`` routes to ``app``, bodies bounded like the native requester's."""
    runner = Runner(services, settings)
    route = openai_route(lambda: settings.max_body_bytes)
    add_routes(app, models.router(runner, route))
    add_routes(app, text.router(runner, route))
    add_routes(app, images.router(runner, Links.from_key(services.keys), route))
