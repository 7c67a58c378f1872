"""Integer bounds shared by every wire model and query parameter.

Python integers have no size, but the database's columns are 64-bit: an unbounded
integer from a client would pass validation and fail deep in the store as a 500.
Every integer the protocol accepts therefore carries one of these types, whose bound
shows in the 422 (field, reason, limit) and in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

INT64_MAX = 2**63 - 1
"""The largest integer a 64-bit signed column holds."""

SAFE_INT = 2**53 - 1
"""The largest integer every JSON reader (and a float-typed schema field) holds exactly."""

MAX_AMOUNT = 2**62
"""The largest amount of micro-credits one request may move (half the column's range)."""

PLAIN = r"^[^\x00]*$"
"""Text without NUL characters, which PostgreSQL's text and JSON columns cannot hold."""

STRICT = ConfigDict(extra="forbid")
"""Requests refuse unknown fields, so a misspelt option is an error, not a silent default."""

Millis = Annotated[int, Field(ge=0, le=INT64_MAX, description="Milliseconds since the epoch.")]
LedgerSeq = Annotated[int, Field(ge=0, le=INT64_MAX, description="A ledger sequence number.")]
MicroCredits = Annotated[int, Field(gt=0, le=MAX_AMOUNT, description="Micro-credits.")]
