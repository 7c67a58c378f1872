"""Calibration and bench jobs: every greedy text job asks something of its own."""

from __future__ import annotations

from swarmgen.core.jobs import TextSpec
from swarmgen.core.offerings import Offering
from swarmgen.tools.calibration import TEXT_PROMPTS, text_jobs


def test_each_greedy_job_of_200_pairs_has_its_own_prompt() -> None:
    jobs = text_jobs(Offering.parse("smollm2-135m@fp32"), 400, seed=3)
    specs = [job.spec for job in jobs]
    assert all(isinstance(spec, TextSpec) for spec in specs)
    greedy = [s.messages[0].content for s in specs if s.temperature == 0.0]  # type: ignore[union-attr]
    sampled = [s.messages[0].content for s in specs if s.temperature > 0.0]  # type: ignore[union-attr]
    assert len(greedy) == len(set(greedy)) == len(TEXT_PROMPTS) == 200
    assert sampled == greedy  # pair k asks prompt k twice: greedy, then sampled
    assert len({job.id for job in jobs}) == 400
