"""The OpenAI face's route class: the native body limit, its own error shape."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.routing import APIRoute

from swarmgen.coordinator.faces.openai import errors
from swarmgen.coordinator.faces.routing import face_route


def openai_route(body_limit: Callable[[], int]) -> type[APIRoute]:
    """A route class that bounds bodies at ``body_limit()`` and answers in this face's shape."""
    return face_route(body_limit, errors)
