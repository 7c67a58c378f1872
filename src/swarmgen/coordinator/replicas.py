"""Long-poll wake-ups across coordinator replicas: the notifier's cross-process path.

Inside one process :class:`~swarmgen.coordinator.notify.Notifier` wakes waiters in
memory. Replicas on one PostgreSQL also relay each wake-up through ``LISTEN/NOTIFY``
(:mod:`swarmgen.store.wakeups`): :class:`RelayedNotifier` publishes what fires here, and
fires here, locally only, what the other replicas publish. A wake-up is a hint: waiters
still re-check the store about once a second, so nothing depends on its delivery.

On SQLite or the in-memory store there is one host and no relay; :func:`notifier_for`
returns a plain notifier.
"""

from __future__ import annotations

from swarmgen.coordinator.notify import Notifier, Signal
from swarmgen.store import Store
from swarmgen.store.wakeups import QUEUE, PgWakeups, wakeups_for


class _RelayedSignal(Signal):
    """The queue signal: fires here and tells the other replicas."""

    def __init__(self, publish: _Publish) -> None:
        super().__init__()
        self._publish = publish

    def fire(self) -> None:
        super().fire()
        self._publish.topic(QUEUE)

    def fire_local(self) -> None:
        super().fire()


class _Publish:
    def __init__(self) -> None:
        self.channel: PgWakeups | None = None

    def topic(self, topic: str) -> None:
        if self.channel is not None:
            self.channel.publish(topic)


class RelayedNotifier(Notifier):
    """A notifier whose wake-ups also reach the other replicas, and theirs this one."""

    def __init__(self) -> None:
        super().__init__()
        self._publish = _Publish()
        self.queue: _RelayedSignal = _RelayedSignal(self._publish)

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

    def _deliver(self, topics: list[str]) -> None:
        for topic in topics:
            if topic == QUEUE:
                self.queue.fire_local()
            else:
                super().job_changed(topic)

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
