"""In-process wake-ups for long polls: workers waiting for jobs, requesters for results.

Workers' pops wait in a :class:`WaitingRoom`, registered per offering they serve. A queue
change names what it queued (:class:`Queued`: jobs per offering, seats per drawn worker)
and wakes at most as many matching waiters as it queued jobs, and the drawn workers
(decision 0025). A woken waiter passes on each wake-up its lease did not use (it leased
nothing of that offering: another pop won the race, the job does not fit it, or it
leased a job of another offering it serves) to a waiter that has not tried it yet, while
its offering still has queued jobs, so no job stays queued while a matching waiter
sleeps. Every :data:`RECHECK_S` the room looks at the store once for all its waiters
(:mod:`swarmgen.coordinator.rechecks`), a safety net for what no wake-up names. The
room's count of waiters per offering is also how many share a short queue
(:func:`~swarmgen.core.scheduling.fair_share`).

A parked waiter that names its lease (:attr:`Waiter.serve`) is not woken to start it: the
queue change that picks it starts the lease at once, and the pop wakes to its outcome
(decision 0029). The first such lease runs in the thread that made the change, right
after its commit; the others in lease threads of the room's. The job's way from commit
to lease then skips a trip through the event loop and, for the first, any thread hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import os
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

RECHECK_S = 15.0
"""How often the room re-checks the store for its waiting pops when nothing woke them
(decisions 0025, 0031)."""

LEASE_THREADS = min(32, (os.cpu_count() or 1) + 4)
"""Lease threads per room, as many as asyncio's default executor has: leases started by
a queue change (:attr:`Waiter.serve`) run in them."""


@dataclass(frozen=True)
class Queued:
    """What a queue change put up for lease, so that it wakes only those who can take it."""

    jobs: Mapping[str, int] = field(default_factory=dict)
    """Ordinary jobs queued (or queued again), per offering."""
    workers: frozenset[str] = frozenset()
    """Workers that validation seats were drawn for."""
    everything: bool = False
    """Unknown changes (a relay that lost its connection): wake every waiter."""

    @classmethod
    def of(cls, offerings: Iterable[str]) -> Queued:
        """One job for each of ``offerings`` (repeats count)."""
        return cls(jobs=dict(Counter(offerings)))

    def __bool__(self) -> bool:
        return self.everything or bool(self.workers) or any(n > 0 for n in self.jobs.values())


EVERYTHING = Queued(everything=True)


@dataclass(frozen=True)
class Idle:
    """The pops of one offering waiting unwoken: how many, and the largest job any holds."""

    offering: str
    waiters: int
    max_pixels: int


class Signal:
    """A broadcast: every ``wait`` pending when ``fire`` is called returns.

    ``fire`` may come from any thread (sync endpoints and periodic tasks run in threads);
    the waiters' event is set on their own loop, so they wake at once.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        _set(event, self._loop)

    async def wait(self, timeout: float) -> bool:
        """Whether it fired within ``timeout`` seconds."""
        self._loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):  # no task of its own, as wait_for makes
                await self._event.wait()
        except TimeoutError:
            return False
        return True


def _set(event: asyncio.Event, loop: asyncio.AbstractEventLoop | None) -> None:
    """Set ``event`` from any thread, on ``loop`` (the one its waiter runs on)."""
    if loop is None or _running_loop() is loop:
        event.set()
    else:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
            loop.call_soon_threadsafe(event.set)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _Leases(Protocol):
    """Where a lease a queue change starts runs: the room's lease threads, or
    :class:`_HereAfter`."""

    def submit(self, fn: Callable[[], object], /) -> Future[object]: ...


class _HereAfter:
    """The first lease a queue change starts, run by the thread that made the change
    once the room's lock is free (:meth:`run`): it has just committed the change, so the
    job skips the hop to a lease thread. Used off the event loop only."""

    def __init__(self) -> None:
        self._task: tuple[Callable[[], object], Future[object]] | None = None

    @property
    def free(self) -> bool:
        return self._task is None

    def submit(self, fn: Callable[[], object], /) -> Future[object]:
        future: Future[object] = Future()
        self._task = (fn, future)
        return future

    def run(self) -> None:
        if self._task is None:
            return
        fn, future = self._task
        if not future.set_running_or_notify_cancel():  # its pop was dropped meanwhile
            return
        try:  # in a context of its own, as in a lease thread: it is the pop's work
            result = contextvars.Context().run(fn)
        except BaseException as exc:  # the pop raises it, as from a lease thread
            future.set_exception(exc)
        else:
            future.set_result(result)


@dataclass(eq=False)
class _Ticket:
    """One queued job's wake-up, handed from waiter to waiter until one leases it."""

    offering: str
    tried: set[int] = field(default_factory=set)
    """The waiters (by ``id``) it has woken: it never wakes one twice."""


class Waiter:
    """One pop waiting in a :class:`WaitingRoom`."""

    def __init__(self, worker_id: str, offerings: Collection[str], lock: threading.Lock) -> None:
        self.worker_id = worker_id
        self.offerings = tuple(offerings)
        self.woken = False
        """Woken and not yet leasing: a wake-up is due to it (it is not picked again)."""
        self.tickets: list[_Ticket] = []
        self.wakes = 0
        """How often it was woken (tests count lease attempts with it)."""
        self.seated = False
        """A seat may be drawn for it: its pop re-checks while its seat hold runs."""
        self.max_pixels = 0
        """The largest job its worker holds: the room's re-check wakes it only for a job
        it could take."""
        self.serve: Callable[[], object] | None = None
        """The pop's lease, for a queue change to start while the pop is parked in
        :meth:`wait`. It runs in the thread that queued the job or in a lease thread
        (:meth:`WaitingRoom.fire`) and begins by taking the wake-ups
        (:meth:`WaitingRoom.take`), as the pop's own lease does."""
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.gone = False
        """The pop has left: a lease begun for it leases nothing and passes its wake-ups
        on (:meth:`WaitingRoom.abandoned`). One that got past that check leases for
        nobody: its jobs wait for their leases to lapse, as when a pop is dropped while
        its own lease runs."""
        self._lock = lock
        self._parked = False
        self._handed: Future[object] | None = None

    async def wait(self, timeout: float) -> Future[object] | None:
        """Until woken, or ``timeout`` seconds. If a queue change started this pop's lease
        (:attr:`serve`) meanwhile, its outcome, once the lease is over."""
        with self._lock:
            self._parked = True
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):  # no task of its own, as wait_for makes
                    await self._event.wait()
        except BaseException:  # the pop is dropped: a lease started for it that has not
            if handed := self._unpark():  # begun never runs (one begun sees it gone)
                handed.cancel()
            raise
        handed = self._unpark()
        if handed is None:
            return None
        if not handed.done():  # its wait ran out as the lease began: the lease is short
            await asyncio.wrap_future(handed)
        with self._lock:  # the lease's end set the event; only a new wake-up may leave it
            if not self.woken:
                self._event.clear()
        return handed

    def _unpark(self) -> Future[object] | None:
        with self._lock:
            self._parked = False
            handed, self._handed = self._handed, None
        return handed

    def _wake(self, ticket: _Ticket | None) -> None:
        """Called under the room's lock."""
        if ticket is not None:
            ticket.tried.add(id(self))
            self.tickets.append(ticket)
        if not self.woken:
            self.woken = True
            self.wakes += 1
            _set(self._event, self._loop)

    def _start(self, ticket: _Ticket, leases: _Leases | None) -> bool:
        """Called under the room's lock: start this parked pop's lease for ``ticket`` in
        ``leases`` rather than wake it to start it. False, and nothing changed, if it
        names no lease, is not parked in :meth:`wait`, or the room is closing."""
        if leases is None or self.serve is None or not self._parked or self._handed is not None:
            return False
        try:
            handed = leases.submit(self.serve)  # it takes the ticket once the lock is free
        except RuntimeError:  # the interpreter is stopping: wake the pop instead
            return False
        ticket.tried.add(id(self))
        self.tickets.append(ticket)
        self.woken = True
        self.wakes += 1
        self._handed = handed
        handed.add_done_callback(lambda _: _set(self._event, self._loop))
        return True


def unused(tickets: Iterable[_Ticket], leased: Iterable[str]) -> list[_Ticket]:
    """The ``tickets`` a lease did not use: each ordinary job it leased (``leased``, their
    offerings) uses one of its offering's. A waiter woken for a job of one offering may
    lease a job of another that it also serves (the one that comes first); the job it was
    woken for then still needs a waiter, and one whose wake-up was spent elsewhere would
    never come."""
    left = Counter(leased)
    out: list[_Ticket] = []
    for ticket in tickets:
        if left[ticket.offering] > 0:
            left[ticket.offering] -= 1
        else:
            out.append(ticket)
    return out


class WaitingRoom:
    """The pops waiting for work in this process, per offering they serve and per worker.

    :meth:`fire` may come from any thread; so may :meth:`pass_on` (a lease runs in one).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leases: ThreadPoolExecutor | None = None
        """Where leases a queue change starts run (:attr:`Waiter.serve`); made on first use."""
        self._closed = False
        self._by_offering: dict[str, dict[Waiter, None]] = {}
        """Insertion-ordered: a woken waiter moves to the back (round robin)."""
        self._by_worker: dict[str, set[Waiter]] = {}
        self.fired = 0
        """Wake-ups so far: a pop reads it before its first lease, and looks again at
        once if it moved by the time the pop has entered (what it queued in between
        would otherwise wait for the re-check)."""

    @contextlib.contextmanager
    def waiting(
        self, worker_id: str, offerings: Collection[str], since: int | None = None
    ) -> Iterator[Waiter]:
        """A waiter for ``worker_id`` on ``offerings`` while the block runs; woken at once
        if anything fired since ``since`` (a reading of :attr:`fired`)."""
        waiter = Waiter(worker_id, offerings, self._lock)
        with self._lock:
            for offering in waiter.offerings:
                self._by_offering.setdefault(offering, {})[waiter] = None
            self._by_worker.setdefault(worker_id, set()).add(waiter)
            if since is not None and since != self.fired:
                waiter._wake(None)
        try:
            yield waiter
        finally:
            self._leave(waiter)

    def _leave(self, waiter: Waiter) -> None:
        """Remove ``waiter``; wake-ups it got but did not act on go to others."""
        with self._lock:
            waiter.gone = True
            for offering in waiter.offerings:
                waiters = self._by_offering.get(offering, {})
                waiters.pop(waiter, None)
                if not waiters:
                    self._by_offering.pop(offering, None)
            mine = self._by_worker.get(waiter.worker_id, set())
            mine.discard(waiter)
            if not mine:
                self._by_worker.pop(waiter.worker_id, None)
            unused = waiter.tickets if waiter.woken else []
            waiter.tickets = []
            self._hand_on(unused)

    def take(self, waiter: Waiter) -> list[_Ticket]:
        """``waiter`` is about to lease: what woke it, and it may be woken again."""
        with self._lock:
            tickets, waiter.tickets = waiter.tickets, []
            waiter.woken = False
            waiter._event.clear()
        return tickets

    def abandoned(self, waiter: Waiter, tickets: Iterable[_Ticket]) -> bool:
        """Whether ``waiter``'s pop has left, so the lease that just took its ``tickets``
        (:meth:`take`) would lease for nobody. If so they go on to others, as those a
        leaving waiter holds do; after this the lease goes ahead even if the pop leaves."""
        with self._lock:
            if waiter.gone:
                self._hand_on(tickets)
            return waiter.gone

    def pass_on(self, tickets: Iterable[_Ticket], still_queued: Collection[str]) -> None:
        """Wake-ups a woken waiter did not use (:func:`unused`): each of ``tickets``
        whose offering still has queued jobs wakes a waiter it has not woken yet (if any)."""
        with self._lock:
            self._hand_on([t for t in tickets if t.offering in still_queued])

    def _hand_on(self, tickets: Iterable[_Ticket]) -> None:
        for ticket in tickets:
            for waiter in self._by_offering.get(ticket.offering, {}):
                if not waiter.woken and id(waiter) not in ticket.tried:
                    waiter._wake(ticket)
                    break

    def fire(self, queued: Queued) -> None:
        """Wake the waiters ``queued`` names: per offering as many as it queued jobs (those
        not woken already, longest idle first), and every pop of the drawn workers. Off
        the event loop, the first lease this starts runs here, before ``fire`` returns."""
        here = _HereAfter() if _running_loop() is None else None
        self._fire(queued, here)
        if here is not None:
            here.run()

    def _fire(self, queued: Queued, here: _HereAfter | None) -> None:
        with self._lock:
            self.fired += 1
            if queued.everything:
                for mine in self._by_worker.values():
                    for waiter in mine:
                        waiter.seated = True  # a seat may be among what was missed
                        waiter._wake(None)
                return
            for worker_id in queued.workers:
                for waiter in self._by_worker.get(worker_id, ()):
                    waiter.seated = True
                    waiter._wake(None)
            for offering, count in queued.jobs.items():
                self._pick(offering, count, here)

    def _pick(self, offering: str, count: int, here: _HereAfter | None) -> None:
        """Called under the lock: up to ``count`` of ``offering``'s waiters not woken
        already, longest idle first, get a wake-up each; a parked one's lease starts,
        ``here`` while it is free, else in a lease thread."""
        waiters = self._by_offering.get(offering)
        if not waiters or count <= 0:
            return
        picked = list(itertools.islice((w for w in waiters if not w.woken), count))
        for waiter in picked:
            ticket = _Ticket(offering)
            leases = here if here is not None and here.free else self._lease_threads()
            if self._closed or not waiter._start(ticket, leases):
                waiter._wake(ticket)
            del waiters[waiter]  # to the back: the next job wakes another
            waiters[waiter] = None

    def _lease_threads(self) -> ThreadPoolExecutor | None:
        """Called under the lock: None once the room is closed."""
        if self._leases is None and not self._closed:
            self._leases = ThreadPoolExecutor(LEASE_THREADS, thread_name_prefix="swarmgen-lease")
        return self._leases

    def close(self) -> None:
        """Start no more leases; the lease threads end once theirs are done (the app is
        stopping). Waiters are woken as before."""
        with self._lock:
            leases, self._leases, self._closed = self._leases, None, True
        if leases is not None:
            leases.shutdown(wait=False)

    def idle(self) -> tuple[list[Idle], set[str]]:
        """What the pops waiting unwoken could take, per offering, and their workers: what
        the room's re-check (:mod:`swarmgen.coordinator.rechecks`) looks for."""
        with self._lock:
            offerings = [
                Idle(offering, len(idle), max(w.max_pixels for w in idle))
                for offering, waiters in self._by_offering.items()
                if (idle := [w for w in waiters if not w.woken])
            ]
            workers = {
                worker for worker, mine in self._by_worker.items() if any(not w.woken for w in mine)
            }
        return offerings, workers

    def waiters(self, offering: str) -> list[Waiter]:
        """The pops waiting for ``offering`` (for tests and metrics)."""
        with self._lock:
            return list(self._by_offering.get(offering, {}))

    def most(self, offerings: Collection[str]) -> int:
        """The most pops waiting for any one of ``offerings``: how many share its queue
        (:func:`~swarmgen.core.scheduling.fair_share`). With replicas each process counts
        its own pops: a worker waiting at another replica is not counted here."""
        with self._lock:
            return max((len(self._by_offering.get(o, {})) for o in offerings), default=0)


class Notifier:
    """The waiting room for pops, and signals for "job X changed"."""

    def __init__(self) -> None:
        self.queue = WaitingRoom()
        self._jobs: dict[str, Signal] = {}
        self._waiters: dict[str, int] = {}

    def job_changed(self, job_id: str) -> None:
        """Wake the long-polls waiting for ``job_id`` (here, and where a subclass relays
        it, in the other replicas)."""
        self.wake_here([job_id])

    def wake_here(self, job_ids: Iterable[str]) -> None:
        """Wake this process's long-polls waiting for ``job_ids``; from any thread."""
        for job_id in job_ids:
            signal = self._jobs.get(job_id)
            if signal is not None:
                signal.fire()

    def waited(self) -> list[str]:
        """The jobs long-polls wait for now; from any thread."""
        return list(self._jobs)  # one step under the interpreter lock: no lock needed

    async def wait_job(self, job_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``job_id`` to change; whether it did."""
        signal = self._jobs.setdefault(job_id, Signal())
        self._waiters[job_id] = self._waiters.get(job_id, 0) + 1
        try:
            return await signal.wait(timeout)
        finally:
            self._waiters[job_id] -= 1
            if not self._waiters[job_id]:
                del self._waiters[job_id]
                del self._jobs[job_id]
