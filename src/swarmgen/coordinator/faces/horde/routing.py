"""The Horde face's route class: the native body limit, Horde's error shape."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from swarmgen.coordinator.faces.bodies import Handler, bounded
from swarmgen.coordinator.faces.horde import errors
from swarmgen.errors import SwarmgenError

log = logging.getLogger(__name__)


def horde_route(body_limit: Callable[[], int]) -> type[APIRoute]:
    """A route class that bounds bodies at ``body_limit()`` and answers as AI Horde does."""

    class HordeRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(await bounded(request, body_limit()))
                except SwarmgenError as exc:
                    return errors.error_response(exc)
                except RequestValidationError as exc:
                    return errors.invalid(exc)
                except HTTPException as exc:
                    if exc.status_code != 400:  # routing errors: the fallback shapes them
                        raise
                    return errors.invalid(RequestValidationError([]))
                except Exception:
                    log.exception("unhandled error on %s %s", request.method, request.url.path)
                    return errors.internal()

            return guarded

    return HordeRoute
