"""The native face's route class: its body limit and its error mapping, per route.

Both used to be app-wide (a middleware keyed on the ``/api/v1/workers`` prefix and one
exception handler for every path). As a route class they belong to the routers that
use it, so a sibling face mounts with its own limits and error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from swarmgen.coordinator.faces.bodies import Handler, bounded
from swarmgen.coordinator.faces.native.errors import (
    error_response,
    internal_response,
    invalid_from,
)
from swarmgen.errors import FieldProblem, InvalidRequest, SwarmgenError

log = logging.getLogger(__name__)


def native_route(body_limit: int | Callable[[], int]) -> type[APIRoute]:
    """A route class that bounds bodies at ``body_limit`` and answers errors natively.

    ``body_limit`` may be a callable, read per request, so a limit follows its settings.
    """
    limit_of = body_limit if callable(body_limit) else (lambda: body_limit)

    class NativeRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(await bounded(request, limit_of()))
                except SwarmgenError as exc:
                    return error_response(exc)
                except RequestValidationError as exc:
                    return error_response(invalid_from(exc))
                except HTTPException as exc:
                    if exc.status_code != 400:  # routing errors: the fallback shapes them
                        raise
                    # FastAPI's answer to a body that is not even text (bad UTF-8).
                    return error_response(InvalidRequest(FieldProblem("body", "malformed JSON")))
                except Exception:
                    log.exception("unhandled error on %s %s", request.method, request.url.path)
                    return internal_response()

            return guarded

    return NativeRoute
