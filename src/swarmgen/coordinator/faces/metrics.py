"""``GET /metrics``: the app's Prometheus registry, for an operator's API key.

Prometheus sends the key as ``authorization: {credentials: <key>}`` in its scrape
config. The native error shape answers a missing key (401) or a non-operator (403).
"""

# No ``from __future__ import annotations``: FastAPI reads the parameter annotations.

from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from swarmgen.coordinator.auth import authenticate_requester
from swarmgen.coordinator.faces import add_routes
from swarmgen.coordinator.faces.native.openapi import errors
from swarmgen.coordinator.faces.native.routing import native_route
from swarmgen.coordinator.metrics import Observer
from swarmgen.errors import Forbidden

PATH = "/metrics"
OPERATOR = "admin"


def mount(app: FastAPI, observer: Observer) -> None:
    api = APIRouter(tags=["meta"], route_class=native_route(1024))

    @api.get(
        PATH,
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."},
            **errors(401, 403, 413, 422),
        },
    )
    def metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
        """Jobs, queue, dispatch, checks, verdicts and ledger figures (operators only)."""
        user = authenticate_requester(observer.store, authorization)
        if user.role != OPERATOR:
            raise Forbidden("metrics are for an operator's API key")
        return Response(generate_latest(observer.registry), media_type=CONTENT_TYPE_LATEST)

    add_routes(app, api)
