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
settings)``; then one ``mount`` line where the app is built.
"""
