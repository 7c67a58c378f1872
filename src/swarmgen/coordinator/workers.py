"""Worker-side services: register, pop (long-poll), submit results, heartbeat, release."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from PIL import Image, UnidentifiedImageError

from swarmgen.blobs import BlobStore
from swarmgen.clock import Clock
from swarmgen.coordinator.credits import Payment, refund
from swarmgen.coordinator.notify import Notifier
from swarmgen.coordinator.schemas import (
    Assignment,
    HeartbeatIn,
    PopIn,
    PopOut,
    RegisterIn,
    RegisterOut,
    Rejected,
    ReleaseIn,
    ResultIn,
    SubmitIn,
    SubmitOut,
)
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.coordinator.verification import Verifier
from swarmgen.core import accounts, credits
from swarmgen.core.jobs import ImageSpec, JobState, TextSpec
from swarmgen.core.offerings import Offering
from swarmgen.core.outputs import ImageOutput, Output, TextOutput
from swarmgen.core.receipts import Receipt
from swarmgen.errors import (
    BadSignature,
    FieldProblem,
    Forbidden,
    InvalidRequest,
    NotFound,
    NotLeased,
    SwarmgenError,
    UnknownModel,
)
from swarmgen.registry import Registry
from swarmgen.store.port import Store
from swarmgen.store.records import Completion, JobRecord, UserRecord, WorkerRecord

log = logging.getLogger(__name__)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _decode_png(text: str, spec: ImageSpec, index: int) -> bytes:
    field = f"results.images[{index}]"
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(FieldProblem(field, "not base64")) from None
    if not data.startswith(PNG_MAGIC):
        raise InvalidRequest(FieldProblem(field, "not a PNG"))
    try:
        size = Image.open(io.BytesIO(data)).size
    except (UnidentifiedImageError, OSError, ValueError):
        raise InvalidRequest(FieldProblem(field, "PNG does not decode")) from None
    if size != (spec.width, spec.height):
        raise InvalidRequest(
            FieldProblem(field, "image size differs from the job's", [spec.width, spec.height])
        )
    return data


def parse_output(result: ResultIn, job: JobRecord) -> Output:
    """The submitted output, checked against the job's spec (422 on any mismatch)."""
    spec = job.parsed_spec()
    if isinstance(spec, ImageSpec):
        if result.images is None or len(result.images) != spec.n:
            raise InvalidRequest(FieldProblem("results.images", "must hold n images", spec.n))
        return ImageOutput(tuple(_decode_png(t, spec, i) for i, t in enumerate(result.images)))
    assert isinstance(spec, TextSpec)
    if result.text is None:
        raise InvalidRequest(FieldProblem("results.text", "a text job needs a text output"))
    try:
        output = TextOutput.from_canonical(result.text)
    except (KeyError, TypeError, ValueError):
        raise InvalidRequest(FieldProblem("results.text", "malformed text output")) from None
    if len(output.token_ids) > spec.max_tokens:
        raise InvalidRequest(
            FieldProblem("results.text.token_ids", "more tokens than asked", spec.max_tokens)
        )
    if len(output.top_logprobs) != len(output.token_ids):
        raise InvalidRequest(
            FieldProblem("results.text.top_logprobs", "need one entry per generated token")
        )
    margins = output.margins_problem(spec.sampled)
    if margins is not None:
        raise InvalidRequest(margins)
    if output.finish_reason not in ("stop", "length"):
        raise InvalidRequest(
            FieldProblem("results.text.finish_reason", "must be stop or length", ["stop", "length"])
        )
    if output.finish_reason == "length" and len(output.token_ids) != spec.max_tokens:
        # Stopping early is only honest at an end token, which a validator then checks.
        raise InvalidRequest(
            FieldProblem(
                "results.text.token_ids", "ended before max_tokens without a stop", spec.max_tokens
            )
        )
    return output


def output_blobs(output: Output) -> list[bytes]:
    if isinstance(output, ImageOutput):
        return list(output.images)
    return [json.dumps(output.canonical(), sort_keys=True).encode("utf-8")]


@dataclass
class WorkerService:
    settings: CoordinatorSettings
    store: Store
    blobs: BlobStore
    registry: Registry
    clock: Clock
    notifier: Notifier
    verifier: Verifier | None = None
    """Draws completed jobs for checks and counts validation results (None: no checks)."""
    _io: ThreadPoolExecutor = dataclass_field(
        default_factory=lambda: ThreadPoolExecutor(8, thread_name_prefix="blobs"), repr=False
    )

    def register(self, worker_id: str, owner: UserRecord | None, body: RegisterIn) -> RegisterOut:
        models: list[str] = []
        for i, text in enumerate(body.capabilities.models):
            field = f"capabilities.models[{i}]"
            try:
                offering = Offering.parse(text)
            except ValueError as exc:
                raise InvalidRequest(FieldProblem(field, str(exc))) from None
            if offering not in self.registry:
                known = sorted(str(o) for o in self.registry.all_offerings())
                raise UnknownModel(FieldProblem(field, f"unknown model offering {offering}", known))
            models.append(str(offering))
        with self.store.transaction() as tx:
            previous = tx.workers.get(worker_id)
        if previous and previous.owner_id and owner and previous.owner_id != owner.id:
            raise Forbidden("this worker key is registered to another owner")
        now = self.clock.now_ms()
        caps = body.capabilities.model_dump()
        caps["models"] = models
        with self.store.transaction() as tx:
            tx.workers.register(
                WorkerRecord(
                    id=worker_id,
                    owner_id=owner.id if owner else (previous.owner_id if previous else None),
                    name=body.name,
                    capabilities=caps,
                    registered_ms=previous.registered_ms if previous else now,
                    last_seen_ms=now,
                )
            )
            worker = tx.workers.get(worker_id)
        assert worker is not None
        return RegisterOut(worker_id=worker_id, owner_id=worker.owner_id, models=models)

    def _worker(self, worker_id: str) -> WorkerRecord:
        with self.store.transaction() as tx:
            worker = tx.workers.get(worker_id)
        if worker is None:
            raise Forbidden("register this worker key first")
        return worker

    async def pop(self, worker_id: str, body: PopIn) -> PopOut:
        """Lease the best fitting jobs; waits up to ``wait_s`` for one to arrive."""
        worker = self._worker(worker_id)
        caps = worker.capabilities
        limit = min(body.max_jobs or caps["max_batch"], caps["max_batch"])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(body.wait_s, self.settings.pop_wait_max_s)
        while True:
            now = self.clock.now_ms()
            with self.store.transaction() as tx:
                leased = tx.dispatch.lease(
                    worker_id,
                    caps["models"],
                    caps["max_pixels"],
                    limit,
                    now,
                    aging_per_s=self.settings.aging_points_per_s,
                    owner_id=worker.owner_id,
                )
            remaining = deadline - loop.time()
            if leased or remaining <= 0:
                break
            await self.notifier.queue.wait(min(remaining, 1.0))
        for job in leased:
            self.notifier.job_changed(job.id)
        return PopOut(
            jobs=[
                Assignment(
                    job_id=job.id,
                    model=job.offering,
                    spec=job.spec,
                    input_digest=job.input_digest,
                    lease_expires_ms=job.lease_expires_ms or 0,
                    sampling_id=job.sampling_id,
                )
                for job in leased
            ]
        )

    def _check(
        self, worker_id: str, result: ResultIn, job: JobRecord | None
    ) -> tuple[Receipt, Output]:
        """Everything about one result that can be checked before the transaction."""
        if job is None:
            raise NotFound(f"no job {result.job_id}", job_id=result.job_id)
        if job.worker_id != worker_id or job.state is not JobState.LEASED:
            raise NotLeased(f"job {result.job_id} is not leased to this worker")
        receipt = Receipt(**result.receipt.model_dump())
        if receipt.worker_id != worker_id or receipt.job_id != result.job_id:
            raise BadSignature("receipt names another worker or job")
        if not receipt.verify():
            raise BadSignature("receipt signature does not verify")
        if receipt.input_digest != job.input_digest:
            raise InvalidRequest(
                FieldProblem("receipt.input_digest", "differs from the job's", job.input_digest)
            )
        output = parse_output(result, job)
        if output.digest() != receipt.output_digest:
            raise InvalidRequest(
                FieldProblem("receipt.output_digest", "differs from the submitted output")
            )
        return receipt, output

    def _store_outputs(self, checked: list[tuple[Receipt, Output]]) -> list[Completion]:
        """Write every output blob (in parallel: file I/O releases the GIL)."""
        blobs = [output_blobs(output) for _, output in checked]
        keys = iter(self._io.map(self.blobs.put, [data for group in blobs for data in group]))
        return [
            Completion(
                job_id=receipt.job_id,
                outputs=[next(keys) for _ in group],
                output_digest=receipt.output_digest,
                receipt=receipt.to_dict(),
                timings=dict(receipt.timings),
            )
            for (receipt, _), group in zip(checked, blobs, strict=True)
        ]

    def _complete(self, worker_id: str, checked: list[Completion]) -> list[str]:
        """Complete the checked results and release their escrow, in one ledger transaction."""
        with self.store.transaction(self.clock.now_ms(), ledger=True) as tx:
            done = tx.jobs.complete(worker_id, tx.now_ms, checked)
            paid = [job for job in done if job.payment == Payment.RESERVED]
            held = tx.book.balances(*(accounts.escrow(job.id) for job in paid))
            receipts = {c.job_id: Receipt.from_dict(c.receipt) for c in checked}
            fee = self.settings.validator_fee_ppm
            tx.book.post(
                posting
                for job in paid
                for posting in credits.complete(held, job.id, job.user_id, receipts[job.id], fee)
            )
            tx.jobs.set_payment([job.id for job in paid], Payment.PENDING)
            queued = self.verifier.after_complete(tx, done) if self.verifier else 0
        if queued:
            self.notifier.queue.fire()
        for job in done:
            self.notifier.job_changed(job.id)
        return [job.id for job in done]

    async def submit(self, worker_id: str, body: SubmitIn) -> SubmitOut:
        """Accept each result on its own merits, all in one transaction.

        The answer lists what was accepted and what was rejected, with a stable code for
        each rejection; when none is accepted, the first error is raised instead. Output
        blobs are written off the event loop, which serves other requests meanwhile.
        """
        self._worker(worker_id)
        with self.store.transaction() as tx:
            found = tx.jobs.get_many([r.job_id for r in body.results])
        jobs = {job.id: job for job in found}
        checked: list[tuple[Receipt, Output]] = []
        rejected: list[tuple[str, SwarmgenError]] = []
        for result in body.results:
            try:
                checked.append(self._check(worker_id, result, jobs.get(result.job_id)))
            except SwarmgenError as exc:
                log.info("rejected result for %s: %s", result.job_id, exc.message)
                rejected.append((result.job_id, exc))
        completions = await asyncio.to_thread(self._store_outputs, checked)
        accepted = self._complete(worker_id, completions) if completions else []
        for completion in completions:  # lost its lease between the check and the transaction
            if completion.job_id not in accepted:
                lost = NotLeased(f"job {completion.job_id} is not leased to this worker")
                rejected.append((completion.job_id, lost))
        if rejected and not accepted:
            raise rejected[0][1]
        return SubmitOut(
            accepted=accepted,
            rejected=[Rejected(job_id=j, code=e.code, message=e.message) for j, e in rejected],
        )

    def heartbeat(self, worker_id: str, body: HeartbeatIn) -> int:
        self._worker(worker_id)
        now = self.clock.now_ms()
        with self.store.transaction() as tx:
            tx.workers.touch(worker_id, now)
            return tx.dispatch.extend(worker_id, body.job_ids, now) if body.job_ids else 0

    def release(self, worker_id: str, body: ReleaseIn) -> int:
        """Queue handed-back jobs again; with an error, fail (and refund) those out of tries."""
        self._worker(worker_id)
        with self.store.transaction(self.clock.now_ms(), ledger=True) as tx:
            released, failed = tx.dispatch.release(
                worker_id,
                body.job_ids,
                tx.now_ms,
                error=body.error,
                max_attempts=self.settings.max_attempts,
            )
            refund(tx, tx.jobs.get_many(failed), credits.RefundReason.FAILED)
        if released:
            self.notifier.queue.fire()
        for job_id in failed:
            self.notifier.job_changed(job_id)
        return len(released) + len(failed)

    def reap(self) -> tuple[list[str], list[str]]:
        """Requeue jobs whose lease expired; fail those out of attempts; prune old nonces."""
        now = self.clock.now_ms()
        queued = 0
        with self.store.transaction(now, ledger=True) as tx:
            expired = self.verifier.expired(tx) if self.verifier else []
            requeued, failed = tx.dispatch.reap(now, self.settings.max_attempts)
            refund(tx, tx.jobs.get_many(failed), credits.RefundReason.FAILED)
            if self.verifier and expired:
                queued = self.verifier.absent(tx, expired)
        if requeued or queued:
            log.info("lease expired, queued again: %s", ", ".join(requeued))
            self.notifier.queue.fire()
        for job_id in requeued + failed:
            self.notifier.job_changed(job_id)
        with self.store.transaction() as tx:
            tx.nonces.prune(now - 3 * self.settings.clock_skew_s * 1000)
        return requeued, failed
