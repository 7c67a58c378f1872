"""The dashboard's route class: errors become HTML pages in the dashboard's own shape.

A page that finds nothing (an unknown worker, an epoch not yet published, a job
without sealed entries) answers 404 with a page saying so; a malformed path or query
answers 422 with the field and the reason. Paths no route matches at all are the
app's fallback's (the native JSON 404), like any other unknown path.
"""

from __future__ import annotations

import logging

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from swarmgen.coordinator.faces.bodies import Handler
from swarmgen.coordinator.faces.dashboard.rendering import Renderer
from swarmgen.coordinator.faces.native.errors import problems_from
from swarmgen.errors import SwarmgenError

log = logging.getLogger(__name__)

TITLES = {404: "Not found", 422: "Bad request", 500: "Something went wrong"}


def page_route(renderer: Renderer) -> type[APIRoute]:
    """A route class that renders :class:`SwarmgenError` and validation errors as pages."""

    def fail(status: int, problems: list[str]) -> Response:
        return renderer.error(status, TITLES.get(status, "Request refused"), problems)

    class PageRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(request)
                except SwarmgenError as exc:
                    status = exc.status if 400 <= exc.status < 500 else 500
                    if status == 500:
                        log.exception("error on %s %s", request.method, request.url.path)
                    return fail(status, [exc.message])
                except RequestValidationError as exc:
                    found = problems_from(list(exc.errors()))
                    return fail(422, [f"{p.field}: {p.reason}" for p in found])
                except Exception:
                    log.exception("unhandled error on %s %s", request.method, request.url.path)
                    return fail(500, ["the coordinator failed to render this page"])

            return guarded

    return PageRoute
