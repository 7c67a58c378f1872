"""The worker loop.

register → pop (long-poll) → run the batch on its backend → sign a receipt per job →
submit, with heartbeats extending the leases of running jobs. While the coordinator is
unreachable it backs off (exponentially, with jitter) and tries again. SIGTERM or SIGINT
stops it cleanly, without waiting for a long-poll to end: the jobs it holds are handed
back so another worker takes them at once.

A validation job is an ordinary assignment; the worker cannot tell one from the other.
A text assignment's ``sampling_id`` seeds the sampler together with the job's seed.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

import httpx

from swarmgen.backends.base import Backend
from swarmgen.core.jobs import Job, spec_from_canonical
from swarmgen.core.modalities import modality
from swarmgen.core.offerings import Offering
from swarmgen.core.outputs import Output
from swarmgen.core.receipts import Receipt
from swarmgen.protocol import Assignment, ReceiptIn, ResultIn, SubmitOut
from swarmgen.sdk.client import SwarmgenAPIError
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.worker.uploads import Batch, Uploads

log = logging.getLogger(__name__)

BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
POLL_S = 0.05
"""How often the daemon's main thread, waiting on a pop or a backend, looks whether the
worker is stopping."""


@dataclass
class Backoff:
    """Exponential back-off with full jitter."""

    delay: float = BACKOFF_MIN_S

    def next(self) -> float:
        wait = random.uniform(BACKOFF_MIN_S / 2, self.delay)
        self.delay = min(BACKOFF_MAX_S, self.delay * 2)
        return wait

    def reset(self) -> None:
        self.delay = BACKOFF_MIN_S


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, SwarmgenAPIError) and exc.status >= 500


def result_in(job: Job, output: Output, receipt: Receipt) -> ResultIn:
    """The wire form of one result: outputs encoded, the signed receipt beside them."""
    signed = ReceiptIn.model_validate(receipt.to_dict())
    encoded = modality(job.kind).encode_output(output)
    return ResultIn(job_id=job.id, receipt=signed, **encoded)


def result_payload(job: Job, output: Output, receipt: Receipt) -> dict[str, Any]:
    """:func:`result_in` as a JSON object (for callers that edit it, e.g. tests)."""
    payload: dict[str, Any] = result_in(job, output, receipt).model_dump(exclude_unset=True)
    return payload


def job_of(assignment: Assignment) -> Job:
    """The core job an assignment describes (a validation seat reads the same)."""
    return Job(
        assignment.job_id,
        Offering.parse(assignment.model),
        spec_from_canonical(assignment.spec),
        sampling_id=assignment.sampling_id,
    )


@dataclass
class Worker:
    """One worker process: a signed client and a backend per offering it serves."""

    client: WorkerClient
    backends: dict[Offering, Backend]
    name: str
    max_pixels: int
    max_batch: int
    pop_wait_s: float = 50.0
    heartbeat_s: float = 5.0
    stake: int = 0
    """Micro-credits to keep locked behind the worker (topped up at start)."""
    memory: int | None = None
    """Bytes of memory declared at registration (``None``: not declared)."""
    stop: threading.Event = field(default_factory=threading.Event)
    held: set[str] = field(default_factory=set)
    completed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _uploads: Uploads = field(init=False)

    def __post_init__(self) -> None:
        self._uploads = Uploads(self._upload)

    def install_signal_handlers(self) -> None:
        def _stop(signum: int, _frame: object) -> None:
            log.info("signal %s: stopping after handing back held jobs", signum)
            self.stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def _retry(self, what: str, call: Callable[[], Any]) -> Any:
        """Run ``call`` until it succeeds, backing off on transport and 5xx errors."""
        backoff = Backoff()
        while not self.stop.is_set():
            try:
                return call()
            except Exception as exc:
                if not _retryable(exc):
                    raise
                wait = backoff.next()
                log.warning("%s failed (%s); retrying in %.1fs", what, exc, wait)
                self.stop.wait(wait)
        return None

    def register(self) -> None:
        models = [str(o) for o in self.backends]
        self._retry(
            "register",
            lambda: self.client.register(
                self.name, models, self.max_pixels, self.max_batch, self.memory
            ),
        )
        log.info("registered %s as %s for %s", self.name, self.client.keys.public_key, models)
        if self.stake > 0:
            locked = int(self.client.stake()["locked"])
            if locked < self.stake:
                self.client.lock_stake(self.stake - locked)
                log.info("locked %d more micro-credits of stake", self.stake - locked)

    def load(self) -> None:
        for offering, backend in self.backends.items():
            started = time.perf_counter()
            backend.load()
            log.info("loaded %s in %.1fs", offering, time.perf_counter() - started)

    def _heartbeats(self) -> None:
        """Extend the leases of held jobs every ``heartbeat_s``. A worker holding none
        sends nothing: its pops already tell the coordinator it is there (each marks
        it seen, at least once per long-poll), and an idle worker's heartbeats cost the
        coordinator about four times what its 30 s pops did (decision 0030), and more
        than six times what its 50 s pops do (decision 0037)."""
        while not self.stop.wait(self.heartbeat_s):
            with self._lock:
                held = sorted(self.held)
            if not held:
                continue
            try:
                self.client.heartbeat(held)
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)

    def run(self) -> None:
        """Serve until stopped; returns after held jobs are handed back."""
        self.load()
        self.register()
        beat = threading.Thread(target=self._heartbeats, name="heartbeat", daemon=True)
        beat.start()
        try:
            while not self.stop.is_set():
                assignments = self._pop()
                if assignments:
                    self.serve(assignments)
        finally:
            self.stop.set()
            self.hand_back()

    def _pop(self) -> Sequence[Mapping[str, Any]] | None:
        """One long-poll, run in a helper thread and given up when the worker stops, so a
        stop need not sit out the rest of a long wait. A pop given up that still comes
        back with jobs hands them back itself; one cut off by the process's exit is
        dropped by the coordinator when the connection closes."""
        answer: Future[Sequence[Mapping[str, Any]] | None] = Future()

        def target() -> None:
            try:
                got = self._retry("pop", lambda: self.client.pop(self.pop_wait_s, self.max_batch))
            except Exception as exc:
                with contextlib.suppress(InvalidStateError):  # given up: nobody to tell
                    answer.set_exception(exc)
                return
            try:
                answer.set_result(got)
            except InvalidStateError:  # given up meanwhile: what it leased goes back
                if got:
                    leased = [Assignment.model_validate(a).job_id for a in got]
                    self._release(leased, "a given-up pop leased them")

        threading.Thread(target=target, name="pop", daemon=True).start()
        while True:
            try:
                return answer.result(timeout=POLL_S)
            except TimeoutError:
                if self.stop.is_set() and answer.cancel():
                    return None

    def _release(self, job_ids: list[str], why: str) -> None:
        """Hand ``job_ids`` back so another worker runs them now; best effort (on a
        failure their leases expire)."""
        try:
            self.client.release(job_ids)
            log.info("handed back %d jobs: %s", len(job_ids), why)
        except Exception as exc:
            log.warning("could not hand back %s: %s (their leases will expire)", job_ids, exc)

    def hand_back(self) -> None:
        self._uploads.close()  # a result on its way is worth more than a release
        with self._lock:
            held = sorted(self.held)
            self.held.clear()
        if held:
            self._release(held, "stopping")

    def _batches(self, jobs: list[Job]) -> list[list[Job]]:
        """Jobs grouped by offering, in chunks no larger than each backend's batch."""
        batches = []
        for offering in dict.fromkeys(job.offering for job in jobs):
            same = [job for job in jobs if job.offering == offering]
            size = max(1, self.backends[offering].max_batch)
            batches += [same[i : i + size] for i in range(0, len(same), size)]
        return batches

    def serve(self, assignments: Sequence[Mapping[str, Any]]) -> None:
        jobs = [job_of(Assignment.model_validate(a)) for a in assignments]
        with self._lock:
            self.held.update(job.id for job in jobs)
        for batch in self._batches(jobs):
            results = self._execute(batch)
            if results is None:  # stopped mid-run: hand_back releases the batch
                return
            if results:  # none: the backend failed, and the batch went back
                # Sent in the background: the next batch computes meanwhile.
                self._uploads.put(results)

    def _upload(self, batches: list[Batch]) -> None:
        """Submit the batches' results in one request. Refused as a whole with several
        batches in it, each batch is sent again on its own: a limit each meets alone (a
        proxy's body limit) or one result that spoils the request does not cost the
        others theirs."""
        if len(batches) > 1:
            results = [result for batch in batches for result in batch.results]
            if not self._refused(results):
                return
            log.info("sending the %d batches of a refused request one by one", len(batches))
        for batch in batches:
            if self._refused(batch.results):
                self._give_back(batch.job_ids)

    def _refused(self, results: list[ResultIn]) -> bool:
        """Submit ``results``; whether the request was refused as a whole (a 4xx: the
        jobs are still held). Answered, the jobs are no longer held and those accepted
        count as completed; stopped before an answer, they stay held for
        :meth:`hand_back`; an unexpected failure gives them back (the results are lost)."""
        job_ids = [result.job_id for result in results]
        try:
            answer = self._retry("submit", lambda: self.client.submit(results))
            if answer is None:  # stopped before the coordinator answered
                return False
            outcome = SubmitOut.model_validate(answer)
        except SwarmgenAPIError as exc:
            log.warning("results for %s refused: %s", job_ids, exc)
            return True
        except Exception:
            log.exception("results for %s could not be sent; giving the jobs back", job_ids)
            self._give_back(job_ids)
            return False
        for refused in outcome.rejected:
            log.warning("result for %s refused: %s", refused.job_id, refused.code)
        with self._lock:
            self.held.difference_update(job_ids)
        self.completed += len(outcome.accepted)
        return False

    def _give_back(self, job_ids: list[str]) -> None:
        """Jobs whose results will not be sent: no longer held, and handed back."""
        with self._lock:
            self.held.difference_update(job_ids)
        self._release(job_ids, "their results will not be sent")

    def _execute(self, batch: list[Job]) -> list[ResultIn] | None:
        """Run ``batch`` on its backend in a helper thread so a stop signal is seen at once."""
        box: dict[str, Any] = {}

        def target() -> None:
            started = time.perf_counter()
            try:
                backend = self.backends[batch[0].offering]
                box["outputs"] = backend.run(batch)
            except Exception as exc:
                box["error"] = exc
            box["ms"] = int((time.perf_counter() - started) * 1000)

        thread = threading.Thread(target=target, name="backend", daemon=True)
        thread.start()
        while thread.is_alive():
            if self.stop.wait(POLL_S):
                return None
        if "error" in box:
            log.error("backend failed on %s: %s", [j.id for j in batch], box["error"])
            self.client.release([job.id for job in batch], error=f"backend: {box['error']}")
            with self._lock:
                self.held.difference_update(job.id for job in batch)
            return []
        per_job_ms = box["ms"] // len(batch)
        results = []
        for job, output in zip(batch, box["outputs"], strict=True):
            output_digest = output.digest()  # the artifact is the output itself here
            receipt = Receipt.signed(
                self.client.keys,
                job_id=job.id,
                input_digest=job.input_digest(),
                output_digest=output_digest,
                artifact_digest=output_digest,
                timings={"run_ms": per_job_ms, "batch": len(batch)},
            )
            results.append(result_in(job, output, receipt))
        return results
