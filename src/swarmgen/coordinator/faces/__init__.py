"""The coordinator's HTTP faces, each a package mounted beside the others.

A face turns one wire protocol into calls on the services and their answers (and
errors) back into that protocol. Each owns its routes, its error shape and its body
limits, so the native ``/api/v1`` face (:mod:`.native`) and, later, an OpenAI- or
AI Horde-compatible face or a dashboard do not answer in each other's shape.
:mod:`.fallback` answers requests that match no face's route at all (404, 405).

Adding a face: a package ``faces/<name>/`` whose routers use their own route class
(see :func:`.native.routing.native_route` for the pattern: body limit plus error
mapping from :class:`swarmgen.errors.SwarmgenError`), converting its wire models to the
services' types (:mod:`swarmgen.coordinator.domain`), and a ``mount(app, services,
settings)`` that adds its routers' routes with :func:`add_routes`; then one ``mount``
line where the app is built.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Add ``router``'s routes to ``app`` as they are, in order.

    ``app.include_router`` (FastAPI 0.165) keeps the router whole and works out its
    routes' effective settings again on every request it matches against them: about a
    tenth of a small request's CPU (a job's status: 1.8 ms, 1.65 ms without). A face's
    router takes no prefix, dependencies or lifespan at inclusion, so its routes are
    complete as they are; the OpenAPI document is the same. Two things inclusion did are
    not done: the routes do not follow ``app.dependency_overrides`` (nothing here uses
    them), and the app's OpenAPI document, cached once built, is not told of routes
    added after it (faces are mounted before the app serves)."""
    app.router.routes.extend(router.routes)
