"""Long-poll wake-ups across coordinator replicas: the notifier's cross-process path.

Inside one process :class:`~swarmgen.coordinator.notify.Notifier` wakes waiters in
memory. Replicas on one PostgreSQL also relay each wake-up through ``LISTEN/NOTIFY``
(:mod:`swarmgen.store.wakeups`): :class:`RelayedNotifier` publishes what fires here, and
fires here, locally only, what the other replicas publish. A queue change travels as
what it queued, so each replica wakes only matching waiters: ``q/OFFERING`` counted once
per job queued, ``w/WORKER`` for a worker seats were drawn for, and a bare ``q`` for
"anything" (a relay that lost its connection). A wake-up is a hint: the waiting room
still re-checks the store at a long interval (decisions 0025, 0031).

On SQLite or the in-memory store there is one host and no relay; :func:`notifier_for`
returns a plain notifier.
"""

from __future__ import annotations

from collections.abc import Mapping

from swarmgen.coordinator.notify import EVERYTHING, Notifier, Queued, WaitingRoom
from swarmgen.store import Store
from swarmgen.store.wakeups import QUEUE, PgWakeups, wakeups_for

OFFERING = "q/"
"""Topic prefix: jobs of an offering were queued (the topic's count says how many)."""
WORKER = "w/"
"""Topic prefix: seats were drawn for a worker."""


def topics_of(queued: Queued) -> dict[str, int]:
    """``queued`` as relay topics with counts."""
    if queued.everything:
        return {QUEUE: 1}
    topics = {f"{OFFERING}{o}": n for o, n in queued.jobs.items() if n > 0}
    topics.update({f"{WORKER}{w}": 1 for w in sorted(queued.workers)})
    return topics


def queued_of(topics: Mapping[str, int]) -> tuple[Queued, list[str]]:
    """What relay ``topics`` queued, and the job ids among them (their changes)."""
    if QUEUE in topics:
        queued = EVERYTHING
    else:
        jobs = {t.removeprefix(OFFERING): n for t, n in topics.items() if t.startswith(OFFERING)}
        workers = frozenset(t.removeprefix(WORKER) for t in topics if t.startswith(WORKER))
        queued = Queued(jobs=jobs, workers=workers)
    prefixes = (OFFERING, WORKER)
    return queued, [t for t in topics if t != QUEUE and not t.startswith(prefixes)]


class _RelayedRoom(WaitingRoom):
    """The waiting room: wakes here and tells the other replicas what was queued."""

    def __init__(self, publish: _Publish) -> None:
        super().__init__()
        self._publish = publish

    def fire(self, queued: Queued) -> None:
        super().fire(queued)
        for topic, count in topics_of(queued).items():
            self._publish.topic(topic, count)

    def fire_local(self, queued: Queued) -> None:
        super().fire(queued)


class _Publish:
    def __init__(self) -> None:
        self.channel: PgWakeups | None = None

    def topic(self, topic: str, count: int = 1) -> None:
        if self.channel is not None:
            self.channel.publish(topic, count)


class RelayedNotifier(Notifier):
    """A notifier whose wake-ups also reach the other replicas, and theirs this one."""

    def __init__(self) -> None:
        super().__init__()
        self._publish = _Publish()
        self.queue: _RelayedRoom = _RelayedRoom(self._publish)

    @property
    def channel(self) -> PgWakeups:
        channel = self._publish.channel
        assert channel is not None, "attach a channel first"
        return channel

    def attach(self, channel: PgWakeups) -> None:
        self._publish.channel = channel

    def job_changed(self, job_id: str) -> None:
        super().job_changed(job_id)
        self._publish.topic(job_id)

    def _deliver(self, topics: Mapping[str, int]) -> None:
        queued, jobs = queued_of(topics)
        if queued:
            self.queue.fire_local(queued)
        for job_id in jobs:
            super().job_changed(job_id)

    def start(self) -> None:
        self.channel.start()

    def stop(self) -> None:
        self.channel.stop()


def notifier_for(store: Store) -> Notifier:
    """A notifier relayed across replicas on PostgreSQL; a local one otherwise."""
    notifier = RelayedNotifier()
    channel = wakeups_for(store, notifier._deliver)
    if channel is None:
        return Notifier()
    notifier.attach(channel)
    return notifier
