"""Wake-ups: fired from threads (sync endpoints, periodic tasks) they reach waiters at
once; a queue change wakes only as many matching waiters as it queued jobs, seats wake
their drawn worker, and a wake that finds nothing is passed on, so no job stays queued
while a waiter that could lease it sleeps (generated interleavings)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field

from hypothesis import example, given, settings
from hypothesis import strategies as st

from swarmgen.coordinator.notify import EVERYTHING, Notifier, Queued, Waiter, WaitingRoom, unused


def test_a_fire_from_another_thread_wakes_a_waiter_at_once() -> None:
    async def main() -> float:
        notifier = Notifier()
        loop = asyncio.get_running_loop()
        with notifier.queue.waiting("w", ["A"]) as waiter:
            waiting = asyncio.create_task(waiter.wait(5.0))
            await asyncio.sleep(0.01)  # the waiter is parked on its event
            started = loop.time()

            def later() -> None:
                time.sleep(0.1)  # the loop is asleep in its selector by now
                notifier.queue.fire(Queued.of(["A"]))

            threading.Thread(target=later).start()
            await waiting
            return loop.time() - started

    assert asyncio.run(main()) < 1.0


def test_a_job_wait_is_woken_by_its_change_on_the_loop() -> None:
    async def main() -> float:
        notifier = Notifier()
        loop = asyncio.get_running_loop()
        waiting = asyncio.create_task(notifier.wait_job("j", 5.0))
        await asyncio.sleep(0.01)
        started = loop.time()
        notifier.job_changed("j")
        await waiting
        return loop.time() - started

    assert asyncio.run(main()) < 1.0


def _enter(stack: ExitStack, room: WaitingRoom, worker: str, offerings: list[str]) -> Waiter:
    return stack.enter_context(room.waiting(worker, offerings))


def test_a_job_wakes_one_waiter_of_its_offering_and_none_of_another() -> None:
    async def main() -> None:
        room = WaitingRoom()
        with ExitStack() as stack:
            a = [_enter(stack, room, f"a{n}", ["A"]) for n in range(5)]
            b = [_enter(stack, room, f"b{n}", ["B"]) for n in range(4)]
            room.fire(Queued.of(["A"]))
            assert [w.woken for w in a] == [True, False, False, False, False]
            assert not any(w.woken for w in b)
            room.fire(Queued.of(["A", "A"]))  # the next two, not the one woken already
            assert [w.woken for w in a] == [True, True, True, False, False]
            room.fire(Queued(jobs={"A": 9}))  # no more than wait
            assert all(w.woken for w in a) and not any(w.woken for w in b)
            assert sum(w.wakes for w in a) == 5

    asyncio.run(main())


def test_a_seat_wakes_its_drawn_worker_and_everything_wakes_everyone() -> None:
    async def main() -> None:
        room = WaitingRoom()
        with ExitStack() as stack:
            drawn = _enter(stack, room, "drawn", ["A"])
            other = _enter(stack, room, "other", ["A"])
            room.fire(Queued(workers=frozenset({"drawn"})))
            assert (drawn.woken, other.woken) == (True, False)
            room.fire(EVERYTHING)
            assert other.woken

    asyncio.run(main())


def test_a_pop_that_enters_after_a_fire_it_did_not_see_looks_again() -> None:
    async def main() -> None:
        room = WaitingRoom()
        since = room.fired
        room.fire(Queued.of(["A"]))  # between the pop's first lease and its entering
        with room.waiting("w", ["A"], since) as late, room.waiting("v", ["A"], room.fired) as v:
            assert late.woken and not v.woken

    asyncio.run(main())


def test_a_wake_passes_on_to_each_waiter_once_and_leaving_hands_it_on() -> None:
    async def main() -> None:
        room = WaitingRoom()
        with ExitStack() as stack:
            first, second = (_enter(stack, room, w, ["A"]) for w in ("w1", "w2"))
            room.fire(Queued.of(["A"]))
            tickets = room.take(first)
            room.pass_on(tickets, still_queued=set())  # nothing queued: it ends here
            assert not second.woken
            room.fire(Queued.of(["A"]))  # round robin: the second now
            assert second.woken and not first.woken
            room.pass_on(room.take(second), still_queued={"A"})
            assert first.woken  # the job is still there: the first tries it
            room.pass_on(room.take(first), still_queued={"A"})
            assert not second.woken  # it tried already: the wake ends
            room.fire(Queued.of(["A"]))
            woken = first if first.woken else second
            stack.close()  # the woken pop ended without leasing: its wake went on
        with room.waiting("w3", ["A"]) as third:
            room.fire(Queued.of(["A"]))
            with room.waiting("w4", ["A"]) as fourth:
                pass  # leaves with nothing to hand on
            assert third.woken and not fourth.woken
        assert woken.wakes >= 1

    asyncio.run(main())


def test_a_lease_uses_one_wake_up_per_job_of_its_offering_and_passes_on_the_rest() -> None:
    async def main() -> None:
        room = WaitingRoom()
        with ExitStack() as stack:
            both = _enter(stack, room, "w1", ["A", "B"])
            only_b = _enter(stack, room, "w2", ["B"])
            room.fire(Queued.of(["B"]))  # the first waited longest: it is woken
            room.fire(Queued.of(["A"]))  # no other waiter serves A: no one more
            assert both.woken and not only_b.woken
            tickets = room.take(both)
            assert [t.offering for t in tickets] == ["B"]
            assert unused(tickets, ["B"]) == []
            assert unused(tickets, ["B", "A"]) == []
            assert unused(tickets, ["A"]) == tickets  # it leased the A job instead
            room.pass_on(unused(tickets, ["A"]), still_queued={"B"})
            assert only_b.woken and not both.woken

    asyncio.run(main())


# -- generated interleavings ------------------------------------------------------------


@dataclass
class Pop:
    offerings: frozenset[str]
    pixels: int
    waiter: Waiter | None = None
    since: int = 0
    tickets: list[object] | None = None
    """Taken, lease not yet run (a lease runs in a thread: others act meanwhile)."""
    done: bool = False
    context: AbstractContextManager[Waiter] | None = None


@dataclass
class Model:
    """The queue as the store holds it, and the pops: what a lease could take."""

    room: WaitingRoom
    queue: list[tuple[str, int]] = field(default_factory=list)
    pops: list[Pop] = field(default_factory=list)

    def fits(self, pop: Pop) -> tuple[str, int] | None:
        return next((j for j in self.queue if j[0] in pop.offerings and j[1] <= pop.pixels), None)

    def lease(self, pop: Pop) -> str | None:
        """The offering of the job ``pop`` leased (the first that fits it), if any."""
        job = self.fits(pop)
        if job is not None:
            self.queue.remove(job)
        return job[0] if job is not None else None

    def act(self, op: tuple[str, int, int]) -> None:
        kind, a, b = op
        getattr(self, f"_{kind}")(a, b)

    def _live(self) -> list[Pop]:
        return [p for p in self.pops if not p.done]

    def _submit(self, a: int, b: int) -> None:
        offering = "AB"[a % 2]
        self.queue.append((offering, 1 + b % 2))
        self.room.fire(Queued.of([offering]))

    def _steal(self, a: int, b: int) -> None:
        if self.queue:  # a pop that does not wait takes a job
            self.queue.pop(a % len(self.queue))

    def _arrive(self, a: int, b: int) -> None:
        offerings = frozenset({"A", "B"}) if b == 2 else frozenset("AB"[a % 2])
        pop = Pop(offerings, 1 + (a // 2) % 2, since=self.room.fired)
        pop.done = self.lease(pop) is not None  # its first try
        self.pops.append(pop)
        if not pop.done and b != 3:  # b == 3: it enters later (an "enter" step)
            pop.waiter = self.enter(pop)

    def _enter(self, a: int, b: int) -> None:
        if entering := [p for p in self._live() if p.waiter is None]:
            pop = entering[a % len(entering)]
            pop.waiter = self.enter(pop)

    def _take(self, a: int, b: int) -> None:
        if woken := [p for p in self._live() if p.waiter and p.waiter.woken]:
            pop = woken[a % len(woken)]
            if pop.tickets is None:
                assert pop.waiter is not None
                pop.tickets = list(self.room.take(pop.waiter))

    def _lease(self, a: int, b: int) -> None:
        if taking := [p for p in self._live() if p.tickets is not None]:
            self.finish(taking[a % len(taking)])

    def _settle(self, a: int, b: int) -> None:
        self.check()

    def _leave(self, a: int, b: int) -> None:
        if waiting := [p for p in self._live() if p.waiter]:
            woken = [p for p in waiting if p.waiter and p.waiter.woken]
            if woken and b % 2 == 0:  # its wait ran out just as it was woken
                waiting = woken
            pop = waiting[a % len(waiting)]
            if pop.tickets is None:  # a pop leaves only between leases
                self.leave_only(pop)

    def enter(self, pop: Pop) -> Waiter:
        """Enter the room (left through :meth:`leave_only`, as the context would)."""
        pop.context = self.room.waiting("w", sorted(pop.offerings), pop.since)
        return pop.context.__enter__()

    def leave_only(self, pop: Pop) -> None:
        assert pop.context is not None
        pop.context.__exit__(None, None, None)
        pop.done = True

    def finish(self, pop: Pop) -> None:
        assert pop.waiter is not None and pop.tickets is not None
        tickets, pop.tickets = pop.tickets, None
        leased = self.lease(pop)
        left = unused(tickets, [leased] if leased else [])  # type: ignore[arg-type]
        self.room.pass_on(left, {j[0] for j in self.queue})
        if leased:
            self.leave_only(pop)

    def check(self) -> None:
        """Settle, then: every pop still waiting finds nothing it could lease."""
        for _ in self.settle():
            pass
        for pop in self.pops:
            if not pop.done:
                assert self.fits(pop) is None, (pop, self.queue)

    def settle(self) -> Iterator[None]:
        """Every pending step runs until nothing is woken: the quiet state."""
        for _ in range(10_000):
            live = [p for p in self.pops if not p.done]
            pending = [p for p in live if p.waiter is None or p.tickets is not None]
            woken = [p for p in live if p.waiter is not None and p.waiter.woken]
            if not pending and not woken:
                return
            for pop in pending:
                if pop.waiter is None:
                    pop.waiter = self.enter(pop)
                else:
                    self.finish(pop)
            for pop in woken:
                if not pop.done and pop.tickets is None and pop.waiter is not None:
                    pop.tickets = list(self.room.take(pop.waiter))
            yield
        raise AssertionError("wake-ups never settled")


OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["submit"] * 3 + ["arrive"] * 3 + ["steal", "enter", "take", "lease", "leave", "settle"]
        ),
        st.integers(0, 3),
        st.integers(0, 3),
    ),
    max_size=40,
)


@settings(max_examples=1000, deadline=None)
@given(OPS)
# a waiter woken for a B job leased an A job it also serves: its unused wake-up for B
# must reach the other waiter, which alone can take the B job
@example([("submit", 0, 0), ("arrive", 0, 0), ("arrive", 0, 2), ("arrive", 3, 0),
          ("submit", 1, 1), ("submit", 0, 0)])  # fmt: skip
def test_no_job_stays_queued_while_a_waiter_that_could_lease_it_sleeps(
    ops: list[tuple[str, int, int]],
) -> None:
    async def main() -> None:
        model = Model(WaitingRoom())
        for op in ops:
            model.act(op)
        model.check()

    asyncio.run(main())
