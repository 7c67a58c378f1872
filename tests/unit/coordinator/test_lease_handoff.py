"""A queued job starts a parked pop's lease at once (decision 0029): the first in the
thread that queued it, before its ``fire`` returns (off the event loop), the others in
lease threads of the room's. The pop wakes to the lease's outcome, also when its wait runs out as
the lease begins; a pop that is not parked, or a closed room, is woken as before; and
a pop that leaves before its started lease begins, or as it begins, gives the job to
another waiter."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from contextlib import ExitStack

import pytest

from swarmgen.coordinator import notify
from swarmgen.coordinator.notify import Queued, Waiter, WaitingRoom


def _serving(room: WaitingRoom, waiter: Waiter, ran: list[str], gate: threading.Event) -> None:
    """``waiter`` names a lease that takes its wake-ups, waits for ``gate`` and answers
    the tickets' offerings, noting the thread it ran in."""

    def lease() -> list[str]:
        tickets = room.take(waiter)
        ran.append(threading.current_thread().name)
        gate.wait(5)
        return [] if room.abandoned(waiter, tickets) else [t.offering for t in tickets]

    waiter.serve = lease


async def _park(waiter: Waiter, timeout: float = 5.0) -> asyncio.Task[Future[object] | None]:
    """``waiter``'s pop, parked in its wait (as a task) by the time this returns."""
    parked = asyncio.create_task(waiter.wait(timeout))
    await asyncio.sleep(0.01)
    return parked


def test_a_queued_job_starts_a_parked_pop_s_lease_in_the_thread_that_queued_it() -> None:
    """Two jobs queued at once from a submit's thread: the first waiter's lease has run
    in that thread when ``fire`` returns, the second's runs in a lease thread."""

    async def main() -> None:
        room = WaitingRoom()
        ran: list[str] = []
        open_gate = threading.Event()
        open_gate.set()
        with room.waiting("w", ["A"]) as waiter, room.waiting("v", ["A"]) as other:
            _serving(room, waiter, ran, open_gate)
            _serving(room, other, ran, open_gate)
            parked = await _park(waiter)
            other_parked = await _park(other)

            def submit() -> tuple[str, list[str]]:  # as a submit's thread does
                room.fire(Queued.of(["A", "A"]))
                return threading.current_thread().name, list(ran)

            submitter, ran_by_then = await asyncio.to_thread(submit)
            assert submitter in ran_by_then  # done before fire returned
            for pop in (parked, other_parked):
                handed = await asyncio.wait_for(pop, 2.0)
                assert handed is not None and handed.result() == ["A"]
            (elsewhere,) = set(ran) - {submitter}
            assert len(ran) == 2 and elsewhere.startswith("swarmgen-lease")
            assert (waiter.woken, waiter.wakes) == (False, 1)
            # the lease's end woke it; nothing new is due, so the next wait waits
            assert await waiter.wait(0.05) is None
        room.close()

    asyncio.run(main())


def test_a_pop_that_is_not_parked_or_a_closed_room_is_woken_not_served() -> None:
    async def main() -> None:
        room = WaitingRoom()
        ran: list[str] = []
        gate = threading.Event()
        gate.set()
        with room.waiting("w", ["A"]) as busy:  # between its waits (leasing, say)
            _serving(room, busy, ran, gate)
            room.fire(Queued.of(["A"]))
            assert busy.woken and ran == []
        room.close()
        with room.waiting("v", ["A"]) as parked:
            _serving(room, parked, ran, gate)
            waiting = await _park(parked)
            room.fire(Queued.of(["A"]))
            assert await asyncio.wait_for(waiting, 2.0) is None
            assert parked.woken and ran == []

    asyncio.run(main())


def test_a_lease_started_as_the_wait_runs_out_still_reaches_the_pop() -> None:
    async def main() -> None:
        room = WaitingRoom()
        ran: list[str] = []
        gate = threading.Event()
        with room.waiting("w", ["A"]) as waiter:
            _serving(room, waiter, ran, gate)
            parked = await _park(waiter, 0.05)
            room.fire(Queued.of(["A"]))  # the lease now runs past the wait's end
            await asyncio.sleep(0.2)
            assert not parked.done()  # it waits for the lease, whose jobs are its own
            gate.set()
            handed = await asyncio.wait_for(parked, 2.0)
            assert handed is not None and handed.result() == ["A"]
        room.close()

    asyncio.run(main())


def test_a_lease_that_fails_reaches_the_pop_as_its_error() -> None:
    async def main() -> None:
        room = WaitingRoom()
        with room.waiting("w", ["A"]) as waiter:

            def lease() -> None:
                room.take(waiter)
                raise RuntimeError("the database refused")

            waiter.serve = lease
            parked = await _park(waiter)
            room.fire(Queued.of(["A"]))
            handed = await asyncio.wait_for(parked, 2.0)
            assert handed is not None
            with pytest.raises(RuntimeError, match="refused"):
                handed.result()
        room.close()

    asyncio.run(main())


def test_a_pop_that_leaves_before_its_lease_begins_gives_the_job_to_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notify, "LEASE_THREADS", 1)

    async def main() -> None:
        room = WaitingRoom()
        ran: list[str] = []
        gate = threading.Event()
        with ExitStack() as stack:
            first = stack.enter_context(room.waiting("first", ["A"]))
            _serving(room, first, ran, gate)
            leaves = room.waiting("leaving", ["A"])
            leaving = leaves.__enter__()
            _serving(room, leaving, ran, gate)
            other = stack.enter_context(room.waiting("other", ["A"]))
            first_parked = await _park(first)
            room.fire(Queued.of(["A"]))  # first's lease takes the only lease thread
            leaving_parked = await _park(leaving)
            room.fire(Queued.of(["A"]))  # leaving's lease queues behind first's
            assert leaving.woken and not other.woken
            leaving_parked.cancel()  # its worker hung up
            with pytest.raises(asyncio.CancelledError):
                await leaving_parked
            leaves.__exit__(None, None, None)
            assert other.woken  # the job it was woken for went on
            gate.set()
            handed = await asyncio.wait_for(first_parked, 2.0)
            assert handed is not None and handed.result() == ["A"]
            await asyncio.sleep(0.05)
            assert len(ran) == 1  # the leaving pop's lease never ran
        room.close()

    asyncio.run(main())


def test_a_pop_that_leaves_as_its_lease_begins_passes_its_wake_up_on() -> None:
    """The lease took the wake-up, then the pop left: the lease must not keep it."""

    async def main() -> None:
        room = WaitingRoom()
        leaves = room.waiting("leaving", ["A"])
        leaving = leaves.__enter__()
        with room.waiting("other", ["A"]) as other:
            room.fire(Queued.of(["A"]))
            assert leaving.woken and not other.woken
            tickets = room.take(leaving)  # its lease begins
            leaves.__exit__(None, None, None)
            assert not other.woken  # leaving held no wake-up when it left
            assert room.abandoned(leaving, tickets)
            assert other.woken  # the job it was woken for went on
            with room.waiting("staying", ["B"]) as staying:
                room.fire(Queued.of(["B"]))
                assert not room.abandoned(staying, room.take(staying))

    asyncio.run(main())
