"""The coordinator's HTTP faces, each a package mounted beside the others.

A face turns one wire protocol into calls on the services and their answers (and
errors) back into that protocol. Each owns its routes, its error shape and its body
limits, so the native ``/api/v1`` face (:mod:`.native`) and, later, an OpenAI- or
AI Horde-compatible face or a dashboard do not answer in each other's shape.
:mod:`.fallback` answers requests that match no face at all.
"""
