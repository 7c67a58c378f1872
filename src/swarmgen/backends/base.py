"""The model-backend port."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from swarmgen.core.jobs import Job
from swarmgen.core.offerings import Offering
from swarmgen.core.outputs import Output


class Backend(Protocol):
    """Runs jobs for one model offering on this machine."""

    offering: Offering
    max_batch: int
    """Most jobs :meth:`run` takes at once."""

    def load(self) -> None:
        """Load weights; idempotent. Called once before the first :meth:`run`."""

    def run(self, jobs: Sequence[Job]) -> list[Output]:
        """Run a batch of jobs for :attr:`offering`; one output per job, in order."""
        ...
