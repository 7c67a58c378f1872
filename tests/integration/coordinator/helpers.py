"""Run leased jobs through the echo backend and submit them, as a worker would."""

from __future__ import annotations

from typing import Any

from swarmgen.backends.echo import EchoBackend
from swarmgen.core.jobs import Job, spec_from_canonical
from swarmgen.core.offerings import Offering
from swarmgen.core.receipts import Receipt
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.worker.daemon import result_payload

IMAGE = Offering.parse("echo-image@fp32")
TEXT = Offering.parse("echo-text@fp32")
MODELS = [str(IMAGE), str(TEXT)]


def run_echo(worker: WorkerClient, assignment: dict[str, Any]) -> dict[str, Any]:
    """A signed result for ``assignment`` computed by the echo backend."""
    job = Job(assignment["job_id"], Offering.parse(assignment["model"]),
              spec_from_canonical(assignment["spec"]))  # fmt: skip
    backend = EchoBackend(job.offering, job.kind)
    (output,) = backend.run([job])
    receipt = Receipt.signed(
        worker.keys,
        job_id=job.id,
        input_digest=job.input_digest(),
        output_digest=output.digest(),
        artifact_digest=output.digest(),
        timings={"run_ms": 1},
    )
    return result_payload(job, output, receipt)
