"""The long-polls' safety nets: one look at the database for all the pops, and one for
all the status long-polls, waiting in a process.

A queue change wakes the waiters that can take what it queued (:mod:`.notify`). What no
wake-up names (a notification lost between replicas, a change nobody announced) is
found here: every ``interval_s`` one read-only transaction asks, for each offering with
pops waiting unwoken, how many jobs they could take are queued, and which of their
workers have a validation seat drawn for them; the room is then woken for exactly
that. Its cost is one transaction per interval per process, whatever the number of
waiters: each pop re-checking on its own cost every one of them a thread hop and a
transaction per interval, about a tenth of what an idle pop cost (decision 0031).

A requester's status long-poll is woken when its job changes, here or (relayed) in
another replica. What no wake-up names (a job finished by another process on SQLite, a
change between the poll's read and its wait) is found the same way: every
``result_recheck_s`` one read-only transaction reads the jobs long-polls wait for and
wakes those waiting for a final one. A waiting requester used to re-read its own job
every second instead: a thread hop and a transaction per second for each of them.
"""

from __future__ import annotations

from swarmgen.coordinator.notify import Notifier, Queued, WaitingRoom
from swarmgen.coordinator.tasks import PeriodicTask
from swarmgen.store.port import Store


def recheck(room: WaitingRoom, store: Store) -> Queued:
    """Wake the waiters of ``room`` for what is queued that they could take; returns it."""
    idle, workers = room.idle()
    if not idle:
        return Queued()
    with store.transaction(read_only=True) as tx:
        due = {i.offering: tx.dispatch.due(i.offering, i.max_pixels, i.waiters) for i in idle}
        drawn = tx.dispatch.seats_drawn_for(workers)
    found = Queued(jobs={o: n for o, n in due.items() if n}, workers=frozenset(drawn))
    if found:
        room.fire(found)
    return found


def recheck_task(room: WaitingRoom, store: Store, interval_s: float) -> PeriodicTask:
    """:func:`recheck` every ``interval_s``, in every process (each has its own room)."""
    return PeriodicTask(
        "pop-recheck", interval_s, max(interval_s, 10.0), lambda: recheck(room, store)
    )


def recheck_results(notifier: Notifier, store: Store) -> list[str]:
    """Wake the status long-polls of ``notifier`` whose job is final; returns those jobs."""
    waited = notifier.waited()
    if not waited:
        return []
    with store.transaction(read_only=True) as tx:
        final = [job.id for job in tx.jobs.get_many(waited) if job.state.final]
    notifier.wake_here(final)
    return final


def results_recheck_task(notifier: Notifier, store: Store, interval_s: float) -> PeriodicTask:
    """:func:`recheck_results` every ``interval_s``, in every process (each wakes its own
    long-polls)."""
    return PeriodicTask(
        "result-recheck",
        interval_s,
        max(interval_s, 10.0),
        lambda: recheck_results(notifier, store),
    )
