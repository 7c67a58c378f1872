"""Pop pacing: a validation seat answers a pop no sooner than ordinary work would.

A seat is drawn for one worker and waits for it, while an ordinary job goes to whichever
worker asks first. So a seat is often ready the instant its worker pops, when ordinary
work makes it wait for the next arrival: the time a pop takes told seats from ordinary
jobs (``bench/adversary.py``, section ``recognise``: best stump on ``pop_ms``, 0.685
against chance 0.627 over 1,000 jobs).

:class:`PopPace` remembers how long recent pops that leased ordinary jobs took, in this
process, and a pop that would answer with seats alone is held until a duration drawn
from those has passed (never past the pop's own wait). The lease is then stamped again
from the moment it is handed out, so its length does not tell either.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

WINDOW = 512
"""How many recent ordinary pop durations the pace draws from."""


@dataclass
class PopPace:
    """Recent ordinary pop durations, and how long a seats-only pop should be held."""

    window: int = WINDOW
    rng: random.Random = field(default_factory=random.SystemRandom)
    _seen: deque[float] = field(init=False)

    def __post_init__(self) -> None:
        self._seen = deque(maxlen=self.window)

    def note(self, seconds: float) -> None:
        """A pop that leased ordinary work took ``seconds``."""
        self._seen.append(max(0.0, seconds))

    def hold(self, elapsed: float, budget: float) -> float:
        """Seconds more to hold a pop that has taken ``elapsed`` and found only seats: a
        recent ordinary pop's duration drawn at random, less what has passed, within the
        ``budget`` the pop may still wait (0 before any ordinary pop was seen)."""
        if not self._seen or budget <= 0:
            return 0.0
        drawn = self.rng.choice(self._seen)
        return max(0.0, min(drawn - elapsed, budget))
