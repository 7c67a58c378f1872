"""Public figures as of a fixed window, never live (decision record 0016).

A worker that reads the queue's size the moment it pops could tell a validation seat
from an ordinary job: a seat is queued right after a sampled completion and waits for
its drawn worker. Every public face (native stats and models, the dashboard, the Horde
status) therefore reads queue and throughput figures through one
:class:`PublicWindow`: the figures taken at the first reading of each window of
``window_s`` seconds, aligned on the clock (a periodic task reads at every boundary,
so the instant is the clock's, not a reader's), and shown unchanged until the next
window. Admin ``/metrics`` stays live.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

PUBLIC_WINDOW_S = 30
"""Default length of the public window (seconds)."""

T = TypeVar("T")


def window_start_ms(now_ms: int, window_s: int) -> int:
    """The start of the window ``now_ms`` falls in (windows align on the epoch of time)."""
    size = window_s * 1000
    return now_ms - now_ms % size


@dataclass
class PublicWindow(Generic[T]):
    """Figures taken once per window and shown, as of then, until the next one."""

    window_s: int
    _taken: tuple[int, T] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def read(self, now_ms: int, take: Callable[[int], T]) -> T:
        """The figures of the window ``now_ms`` falls in; ``take(window_start)`` is
        called to take them at the first reading of a window (once, under a lock)."""
        start = window_start_ms(now_ms, self.window_s)
        with self._lock:
            if self._taken is None or self._taken[0] != start:
                self._taken = (start, take(start))
            return self._taken[1]
