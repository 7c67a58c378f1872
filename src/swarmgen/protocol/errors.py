"""The native error shape, as a model: what every 4xx and 5xx of ``/api/v1`` carries.

``{"error": {"code": ..., "message": ..., "fields": [{"field", "reason", "limit"}]}}``.
The coordinator writes it from :class:`swarmgen.errors.SwarmgenError`; the OpenAPI
document names it for every error status; the SDK reads ``code`` from it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FieldProblemOut(BaseModel):
    """One refused field: where, why, and the bound it broke (when there is one)."""

    field: str
    reason: str
    limit: Any = None


class ErrorBody(BaseModel):
    """A stable machine-readable ``code``, a human ``message`` and per-error details."""

    model_config = ConfigDict(extra="allow")  # details differ by code (e.g. shortfall)

    code: str = Field(description="Stable across releases, e.g. not_found, rate_limited.")
    message: str
    fields: list[FieldProblemOut] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody
