"""The AI Horde-compatible face: ``/api/v2`` beside the native ``/api/v1`` and ``/v1``.

``mount(app, services, settings)`` adds the subset of AI Horde's API its clients use:
image requests (``/generate/async``, ``/generate/check/{id}``, ``/generate/status/{id}``),
text requests (``/generate/text/async``, ``/generate/text/status/{id}``), and
``/status/heartbeat``, ``/status/models`` and ``/find_user``. Requesters send their API
key in the ``apikey`` header (``0000000000``: the anonymous key; ``swarmgen keys create
--horde`` makes a key of the 22 characters ``horde_sdk`` requires). Errors are
``{"message", "rc"}`` (:mod:`.errors`), unknown ``/api/v2`` paths too, through
:data:`PREFIX` and :func:`routing_error` in the app's fallback. A request's id is its
job's id under a keyed permutation (:mod:`.ids`). Horde *workers* are not served: see
decision record 0019.
"""

from __future__ import annotations

from fastapi import FastAPI

from swarmgen.coordinator.faces import add_routes
from swarmgen.coordinator.faces.horde import images, status, text
from swarmgen.coordinator.faces.horde.errors import routing as routing_error
from swarmgen.coordinator.faces.horde.ids import HordeIds
from swarmgen.coordinator.faces.horde.requests import HordeServices, Requests
from swarmgen.coordinator.faces.horde.routing import horde_route
from swarmgen.coordinator.faces.openai.links import Links
from swarmgen.coordinator.settings import CoordinatorSettings

PREFIX = "/api/v2"

__all__ = ["PREFIX", "HordeServices", "mount", "routing_error"]


def mount(app: FastAPI, services: HordeServices, settings: CoordinatorSettings) -> None:
    """Add the ``/api/v2`` routes to ``app``, bodies bounded like the native requester's;
    image links are the OpenAI face's signed links."""
    requests = Requests(services, settings, HordeIds.from_key(services.keys))
    route = horde_route(lambda: settings.max_body_bytes)
    add_routes(app, images.router(requests, Links.from_key(services.keys), route))
    add_routes(app, text.router(requests, route))
    add_routes(app, status.router(requests, route))
