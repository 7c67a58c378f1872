"""A worker's text validation: score claimed tokens instead of generating."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from swarmgen.backends.base import BackendError
from swarmgen.backends.echo import EchoBackend
from swarmgen.core.jobs import Job, TextSpec
from swarmgen.core.offerings import Kind, Offering
from swarmgen.core.outputs import Output, TextOutput
from swarmgen.worker.daemon import SCORED, ScoreTask, run_batch, score_output

TEXT = Offering.parse("echo-text@fp32")


def job(job_id: str, temperature: float = 0.0) -> Job:
    spec = TextSpec(prompt="count", max_tokens=8, temperature=temperature, seed=7)
    return Job(job_id, TEXT, spec)


class Counting(EchoBackend):
    """Echo that records the batches it generates."""

    def __init__(self) -> None:
        super().__init__(TEXT, Kind.TEXT)
        self.batches: list[list[str]] = []

    def run(self, jobs: Sequence[Job]) -> list[Output]:
        self.batches.append([j.id for j in jobs])
        return super().run(jobs)


def test_a_mixed_batch_generates_the_jobs_and_scores_the_validations() -> None:
    backend = Counting()
    claim = backend.run([job("orig")])[0]
    assert isinstance(claim, TextOutput)
    tasks = {"val": ScoreTask(claim.token_ids, "orig")}
    outputs = run_batch(backend, [job("a"), job("val"), job("b")], tasks)
    assert backend.batches[-1] == ["a", "b"]  # the validation was not generated
    scored = outputs[1]
    assert isinstance(scored, TextOutput) and scored.finish_reason == SCORED
    assert scored.token_ids == claim.token_ids
    assert scored.top_logprobs == backend.score(job("orig"), claim.token_ids)


def test_a_sampled_job_returns_the_replayed_choices() -> None:
    backend = EchoBackend(TEXT, Kind.TEXT)
    claimed = (3, 3, 3)
    scored = score_output(backend, job("v", temperature=0.7), ScoreTask(claimed, "orig"))
    assert list(scored.token_ids) == backend.replay_choices(job("orig", 0.7), claimed)
    assert scored.token_ids != claimed


def test_a_backend_that_cannot_score_refuses() -> None:
    class Plain:
        offering, max_batch = TEXT, 1

        def load(self) -> None: ...

        def run(self, jobs: Sequence[Job]) -> list[Output]:
            return []

    with pytest.raises(BackendError, match="cannot score"):
        score_output(Plain(), job("v"), ScoreTask((1,), "orig"))
