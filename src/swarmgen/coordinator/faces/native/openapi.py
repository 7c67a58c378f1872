"""What the native face tells the OpenAPI document about its errors.

FastAPI documents only the success status and a 422 in its own ``{"detail"}`` shape;
the native face answers errors as :class:`~swarmgen.protocol.ErrorOut`, so each route
lists the statuses it can return with that schema. Every native route reads its body
through the limit (413), may fail validation (422), and may find the database or the
blob store busy (503).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from swarmgen.protocol import ErrorOut

WHY = {
    401: "Missing, unknown or revoked credentials (API key, or worker signature headers).",
    402: "The balance does not cover the price; details carry the shortfall.",
    403: "Authenticated but not allowed (e.g. the anonymous key, an unregistered worker).",
    404: "No such object visible to the caller.",
    409: "The object's state does not allow this (or a replayed nonce).",
    413: "The request body exceeds the face's limit.",
    422: "The request failed validation; ``fields`` names each field, reason and limit.",
    429: "Too many active jobs; retry after ``Retry-After`` seconds.",
    503: "The database broke this request's transaction off (``database_busy``; nothing "
    "changed), or the blob store did not answer (``storage_unavailable``): try again.",
}

Responses = dict[int | str, dict[str, Any]]


def errors(*statuses: int) -> Responses:
    """OpenAPI ``responses`` for ``statuses``, each with the native error schema."""
    return {status: {"model": ErrorOut, "description": WHY[status]} for status in statuses}


ALWAYS = errors(413, 422, 503)
"""What any native route can answer."""

REQUESTER = errors(401, 413, 422, 503)
"""What any route behind an API key can answer."""

WORKER = errors(401, 403, 409, 413, 422, 503)
"""What any signed worker route can answer (409: replayed nonce; 403: not registered)."""


def media(description: str, *types: str) -> Responses:
    """A 200 whose body is not JSON: bytes of the given media types."""
    content = {t: {"schema": {"type": "string", "format": "binary"}} for t in types}
    return {200: {"description": description, "content": content}}


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` with every ``#/$defs/...`` reference replaced by its definition."""
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _inline(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    return {key: _inline(value, defs) for key, value in schema.items() if key != "$defs"}


def signed_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a signed route's JSON body as ``model``.

    Signed routes read the raw bytes (the signature covers them) and parse them after
    the signature checks, so FastAPI cannot see the body; this tells the document.
    """
    schema = model.model_json_schema()
    body = _inline(schema, schema.get("$defs", {}))
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": body}}}}
