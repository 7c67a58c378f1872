"""The public ledger: the coordinator's key, the export and per-job inclusion proofs.

Both serve published epochs only (:class:`~swarmgen.coordinator.auditing.Publication`):
sealed, and with nothing in them a worker could still act upon, so the open epoch's
checks, prices and reservations never reach a worker while they could matter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import StreamingResponse

from swarmgen.coordinator import auditing
from swarmgen.coordinator.faces.native.callers import Callers
from swarmgen.coordinator.faces.native.openapi import ALWAYS, errors
from swarmgen.protocol import CoordinatorKeyOut
from swarmgen.protocol.bounds import PLAIN

EXPORT_MEDIA = "application/x-ndjson"


def router(callers: Callers, prefix: str, route_class: type) -> APIRouter:
    """Routes under ``prefix`` (e.g. ``/api/v1/ledger``); no credentials needed."""
    epochs = callers.services.epochs
    publication = auditing.Publication(epochs.store)
    api = APIRouter(prefix=prefix, tags=["ledger"], route_class=route_class, responses=ALWAYS)

    @api.get("/key", response_model=CoordinatorKeyOut)
    def coordinator_key() -> CoordinatorKeyOut:
        """The coordinator's public key, which signs every epoch seal."""
        return CoordinatorKeyOut(coordinator=epochs.keys.public_key)

    @api.get(
        "/export",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "JSON lines: a header, then entries and seals in chain order.",
                "content": {EXPORT_MEDIA: {"schema": {"type": "string"}}},
            }
        },
    )
    def export() -> StreamingResponse:
        """The published ledger as JSON lines (see ``swarmgen ledger verify``): every
        sealed epoch whose checks and jobs are over, each followed by its seal."""
        upto = publication.published()

        def lines() -> Iterator[bytes]:
            for line in auditing.export(epochs.store, epochs.keys.public_key, upto):
                yield line.encode("utf-8")

        return StreamingResponse(lines(), media_type=EXPORT_MEDIA)

    @api.get("/proofs/{job_id}", responses=errors(404))
    def proof(
        job_id: Annotated[str, Path(min_length=1, max_length=64, pattern=PLAIN)],
    ) -> dict[str, Any]:
        """Inclusion proofs of a job's published entries, checkable offline against the key."""
        return auditing.prove(epochs.store, job_id, publication.published()).to_dict()

    return api
