"""Wake-ups between coordinator replicas that share one PostgreSQL: ``LISTEN/NOTIFY``.

A replica that queues a job (or finishes one) wakes its own long-polls in memory; the
others learn of it through a notification on one channel per deployment (named after
the schema, as the leader lock is). :class:`PgWakeups` runs two daemon threads, each on
a connection of its own, outside the pool:

- the *sender* coalesces what was published since its last round into as few
  ``pg_notify`` calls as fit the payload limit (one per round under load, not one per
  job), a topic published ``n`` times sent once as ``topic*n``;
- the *listener* ``LISTEN``\\ s and hands every message from another replica to a callback
  (its own, tagged with its origin, are dropped). When its connection fails it reconnects
  and reports a wake-up of everything, since it may have missed some.

Notifications are hints, not a log: each process's waiting room still re-checks the
database at a long interval (decisions 0025, 0031), so a lost one delays a pop, it never
loses a job.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, text

from swarmgen.store.port import Store
from swarmgen.store.sql import SqlStore

log = logging.getLogger(__name__)

QUEUE = "q"
"""The topic "the queue changed, wake everyone"; a job's topic is its id. The notifier
names finer topics for what it queued (:mod:`swarmgen.coordinator.replicas`)."""
MAX_PAYLOAD = 7900
"""PostgreSQL refuses a payload of 8,000 bytes or more."""
RECONNECT_S = 1.0
LISTEN_POLL_S = 0.25
"""How long the listener blocks between looks at whether it should stop."""

Deliver = Callable[[dict[str, int]], None]
"""Called (from the listener thread) with the topics another replica published, each
with how many times it was published since the sender's previous round."""


def channel_of(engine: Engine) -> str:
    """The deployment's channel: ``swarmgen.<schema>``, so deployments in one database
    (a schema each) do not wake each other."""
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar() or "public"
    return f"swarmgen.{schema}"


def packed(origin: str, topics: Iterable[str] | Mapping[str, int]) -> list[str]:
    """``topics`` as payloads ``ORIGIN topic topic*n …`` of at most :data:`MAX_PAYLOAD`
    bytes (with counts, a topic counted ``n`` > 1 times is written ``topic*n``)."""
    payloads: list[str] = []
    current = origin
    counted = topics.items() if isinstance(topics, Mapping) else ((t, 1) for t in topics)
    for name, count in counted:
        topic = name if count == 1 else f"{name}*{count}"
        if len(current) + 1 + len(topic) > MAX_PAYLOAD and current != origin:
            payloads.append(current)
            current = origin
        current = f"{current} {topic}"
    if current != origin:
        payloads.append(current)
    return payloads


class PgWakeups:
    """Publish topics to the other replicas and deliver theirs to ``deliver``."""

    def __init__(self, engine: Engine, deliver: Deliver) -> None:
        self._engine = engine
        self._deliver = deliver
        self.origin = uuid.uuid4().hex[:12]
        self.channel = channel_of(engine)
        self._pending: Counter[str] = Counter()
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for name, target in (
            ("wakeups-send", self._send_loop),
            ("wakeups-listen", self._listen_loop),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_listening(self, timeout: float) -> bool:
        """Whether the listener has subscribed (tests wait for it before publishing)."""
        return self._listening.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(3.0)

    def publish(self, topic: str, count: int = 1) -> None:
        """Tell the other replicas ``topic`` changed, ``count`` times (coalesced, counts
        added; returns at once)."""
        with self._wake:
            self._pending[topic] += count
            self._wake.notify()

    # --- sender -------------------------------------------------------------------------

    def _take(self) -> Counter[str]:
        with self._wake:
            while not self._pending and not self._stopping.is_set():
                self._wake.wait(1.0)
            topics, self._pending = self._pending, Counter()
        return topics

    def _send_loop(self) -> None:
        conn: Any = None
        while not self._stopping.is_set():
            topics = self._take()
            if not topics:
                continue
            try:
                if conn is None:
                    conn = self._raw()
                for payload in packed(self.origin, topics):
                    conn.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
            except Exception:
                log.warning("could not notify the other replicas", exc_info=True)
                _closed(conn)
                conn = None
                self._stopping.wait(RECONNECT_S)
        _closed(conn)

    # --- listener -----------------------------------------------------------------------

    def _listen_loop(self) -> None:
        first = True
        while not self._stopping.is_set():
            conn: Any = None
            try:
                conn = self._raw()
                conn.execute(f"LISTEN {_identifier(self.channel)}")
                self._listening.set()
                if not first:  # what was sent while we were away is lost: wake everything
                    self._deliver({QUEUE: 1})
                first = False
                while not self._stopping.is_set():
                    for note in conn.notifies(timeout=LISTEN_POLL_S):
                        topics = self._topics(note.payload)
                        if topics:
                            self._deliver(topics)
            except Exception:
                if not self._stopping.is_set():
                    log.warning("lost the wake-up channel; reconnecting", exc_info=True)
                self._listening.clear()
                self._stopping.wait(RECONNECT_S)
            finally:
                _closed(conn)

    def _topics(self, payload: str) -> dict[str, int]:
        origin, _, rest = payload.partition(" ")
        if origin == self.origin:
            return {}
        return dict(unpacked(rest.split()))

    def _raw(self) -> Any:
        """A psycopg connection of its own, in autocommit (a LISTEN must not sit in a
        transaction, and a notification is sent at once)."""
        import psycopg

        url = self._engine.url.set(drivername="postgresql")
        conn = psycopg.connect(
            url.render_as_string(hide_password=False),
            autocommit=True,
            connect_timeout=5,
        )
        return conn


def unpacked(words: Iterable[str]) -> Counter[str]:
    """The topics and counts of a payload's words (``topic`` or ``topic*n``)."""
    topics: Counter[str] = Counter()
    for word in words:
        name, star, count = word.rpartition("*")
        if star and count.isdigit():
            topics[name] += int(count)
        else:
            topics[word] += 1
    return topics


def wakeups_for(store: Store, deliver: Deliver) -> PgWakeups | None:
    """The wake-up channel between replicas of ``store``'s deployment: on PostgreSQL,
    :class:`PgWakeups` (not started yet); None elsewhere (SQLite and the in-memory store
    serve one host, where the notifier alone suffices)."""
    if isinstance(store, SqlStore) and store.engine.dialect.name == "postgresql":
        return PgWakeups(store.engine, deliver)
    return None


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _closed(conn: Any) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:
            log.debug("closing a wake-up connection failed", exc_info=True)
