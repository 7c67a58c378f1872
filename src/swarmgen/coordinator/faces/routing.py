"""A route class for a face with its own error shape: the native body limit, every
error answered in that face's shape, never a bare 500."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from swarmgen.coordinator.faces.bodies import Handler, bounded
from swarmgen.coordinator.faces.hangup import HUNG_UP, HungUp
from swarmgen.errors import SwarmgenError

log = logging.getLogger(__name__)


class ErrorShape(Protocol):
    """What a face's ``errors`` module provides to the route class."""

    def error_response(self, exc: SwarmgenError) -> Response: ...

    def invalid(self, exc: RequestValidationError) -> Response: ...

    def internal(self) -> Response: ...


def face_route(body_limit: Callable[[], int], shape: ErrorShape) -> type[APIRoute]:
    """A route class that bounds bodies at ``body_limit()`` and answers errors in
    ``shape``; routing errors (404/405) are left to the fallback, which shapes them."""

    class FaceRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(await bounded(request, body_limit()))
                except SwarmgenError as exc:
                    return shape.error_response(exc)
                except HungUp:  # nobody reads this answer
                    return Response(status_code=HUNG_UP)
                except RequestValidationError as exc:
                    return shape.invalid(exc)
                except HTTPException as exc:
                    if exc.status_code != 400:
                        raise
                    return shape.invalid(RequestValidationError([]))
                except Exception:
                    log.exception("unhandled error on %s %s", request.method, request.url.path)
                    return shape.internal()

            return guarded

    return FaceRoute
