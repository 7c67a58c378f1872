"""What ``swarmgen submit`` prints of a job's place in the queue."""

from __future__ import annotations

from swarmgen.cli.submit import place
from swarmgen.core.scheduling import POSITION_CAP


def test_a_place_at_the_cap_reads_as_that_many_or_more() -> None:
    assert place(0) == "0"
    assert place(POSITION_CAP - 1) == str(POSITION_CAP - 1)  # exact below the cap
    assert place(POSITION_CAP) == f"{POSITION_CAP} or more"
