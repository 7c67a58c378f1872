"""One error root with stable, machine-readable codes.

Errors that reach a client carry a ``code`` (stable across releases) and an HTTP
``status``; each HTTP face maps them to responses in its own error shape (the native
face in ``coordinator/faces/native/errors``).
The core raises these, never HTTP exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldProblem:
    """One reason a request field was refused."""

    field: str
    reason: str
    limit: Any = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "reason": self.reason}
        if self.limit is not None:
            out["limit"] = self.limit
        return out


class SwarmgenError(Exception):
    """Root of every error swarmgen raises on purpose."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class InvalidRequest(SwarmgenError):
    """A request failed validation; ``problems`` names each field, reason and limit."""

    code = "invalid_request"
    status = 422

    def __init__(self, problems: list[FieldProblem] | FieldProblem, message: str = "") -> None:
        items = [problems] if isinstance(problems, FieldProblem) else list(problems)
        self.problems = items
        text = message or "; ".join(f"{p.field}: {p.reason}" for p in items)
        super().__init__(text, fields=[p.as_dict() for p in items])


class Unauthorized(SwarmgenError):
    """Missing or wrong credentials."""

    code = "unauthorized"
    status = 401


class BadSignature(Unauthorized):
    """A worker request's Ed25519 signature does not verify."""

    code = "bad_signature"


class StaleRequest(Unauthorized):
    """A signed request's timestamp is outside the accepted window."""

    code = "stale_timestamp"


class ReplayedNonce(SwarmgenError):
    """A signed request reused a nonce the coordinator has already seen."""

    code = "replayed_nonce"
    status = 409


class Forbidden(SwarmgenError):
    """Authenticated, but not allowed to do this."""

    code = "forbidden"
    status = 403


class AnonymousRefused(Forbidden):
    """The shared anonymous key asked for what would read or move the shared account.

    Anonymous callers share one user: they may submit, quote and follow a job by its
    id, but not list or cancel jobs, read the account's entries or move its credits,
    which would show or touch other anonymous callers' jobs and credits.
    """

    code = "anonymous_forbidden"


class StakeRequired(Forbidden):
    """The worker has no owner, or too little stake locked, to serve the offerings it
    asks for: its owner locks stake behind it (``/workers/stake/lock``) first."""

    code = "stake_required"


class NotFound(SwarmgenError):
    """No such object visible to the caller."""

    code = "not_found"
    status = 404


class Conflict(SwarmgenError):
    """The object is not in a state that allows the operation."""

    code = "conflict"
    status = 409


class IdempotencyKeyReused(Conflict):
    """An ``Idempotency-Key`` came back with a request other than the one it first named."""

    code = "idempotency_key_reused"


class NotLeased(Conflict):
    """A worker submitted for a job that is not leased to it (or whose lease ended)."""

    code = "not_leased"


class UnknownModel(InvalidRequest):
    """The requested model offering is not in the registry."""

    code = "unknown_model"


class InsufficientCredits(SwarmgenError):
    """The requester's balance does not cover the job's price."""

    code = "insufficient_credits"
    status = 402


class RateLimited(SwarmgenError):
    """Too many concurrent jobs; retry after ``retry_after`` seconds."""

    code = "rate_limited"
    status = 429


class PayloadTooLarge(SwarmgenError):
    """The request body exceeds the configured limit."""

    code = "payload_too_large"
    status = 413


class DatabaseBusy(SwarmgenError):
    """The database broke off the transaction (PostgreSQL found a lock cycle, 40P01, or a
    serialization conflict, 40001); it changed nothing: try again."""

    code = "database_busy"
    status = 503


class StorageUnavailable(SwarmgenError):
    """The blob store did not answer (network, throttling, its own error): try again."""

    code = "storage_unavailable"
    status = 503
