"""The seeded text sampler: greedy, temperature, top-p and choice margins (no model)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from swarmgen.backends.base import BackendError
from swarmgen.core.jobs import Job, TextSpec
from swarmgen.core.offerings import Offering

torch = pytest.importorskip("torch")

from swarmgen.backends.transformers_text import Sampler  # noqa: E402

OFFERING = Offering.parse("smollm2-135m@fp32")
LOGITS = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])


def job(job_id: str = "j", temperature: float = 1.0, top_p: float = 1.0, seed: int = 1) -> Job:
    spec = TextSpec(prompt="x", temperature=temperature, top_p=top_p, seed=seed)
    return Job(job_id, OFFERING, spec)


def draws(sampler: Sampler, count: int) -> list[int]:
    return [sampler.choose(LOGITS)[0] for _ in range(count)]


def test_greedy_picks_the_largest_logit_without_randomness() -> None:
    sampler = Sampler(job(temperature=0.0))
    assert sampler.generator is None
    assert draws(sampler, 5) == [int(torch.argmax(LOGITS))] * 5


def test_same_job_replays_the_same_draws() -> None:
    assert draws(Sampler(job()), 50) == draws(Sampler(job()), 50)


def test_job_id_and_seed_change_the_draws() -> None:
    base = draws(Sampler(job()), 50)
    assert draws(Sampler(job(job_id="k")), 50) != base
    assert draws(Sampler(job(seed=2)), 50) != base


def test_a_job_with_anothers_sampling_id_draws_what_that_job_draws() -> None:
    validation = replace(job(job_id="v"), sampling_id="j")
    assert draws(Sampler(validation), 50) == draws(Sampler(job(job_id="j")), 50)


def test_tight_top_p_keeps_only_the_most_likely_token() -> None:
    assert set(draws(Sampler(job(top_p=0.01)), 50)) == {0}


def test_top_p_keeps_the_smallest_set_reaching_it() -> None:
    probs = torch.softmax(LOGITS.double(), dim=-1)
    top_p = float(probs[0] + probs[1]) - 1e-6
    assert set(draws(Sampler(job(top_p=top_p)), 300)) == {0, 1}


def test_draw_frequencies_follow_the_tempered_distribution() -> None:
    count = 4000
    temperature = 1.5
    picks = draws(Sampler(job(temperature=temperature)), count)
    probs = torch.softmax(LOGITS.double() / temperature, dim=-1).tolist()
    for token, p in enumerate(probs):
        observed = picks.count(token) / count
        assert abs(observed - p) < 4 * math.sqrt(p * (1 - p) / count) + 1e-3


def test_sampled_job_needs_a_seed() -> None:
    with pytest.raises(BackendError, match="no seed"):
        Sampler(job(seed=None))  # type: ignore[arg-type]


def two_tokens(first: float) -> torch.Tensor:
    """Logits of a two-token distribution whose first token has probability ``first``."""
    return torch.tensor([math.log(first), math.log(1.0 - first)], dtype=torch.float64)


def first_uniform(j: Job) -> float:
    """The job's first uniform draw (the same generator the sampler seeds)."""
    sampler = Sampler(j)
    assert sampler.generator is not None
    return float(torch.rand((), generator=sampler.generator, dtype=torch.float64))


def test_the_margin_is_the_distance_from_the_draw_to_the_nearer_edge() -> None:
    j = job()
    u = first_uniform(j)
    token, margin = Sampler(j).choose(two_tokens(0.5))
    assert token == (0 if u < 0.5 else 1)
    assert margin == pytest.approx(min(u, 1 - u, abs(u - 0.5)))


def test_a_draw_on_the_edge_can_fall_either_way_with_a_tiny_margin() -> None:
    j = job()
    u = first_uniform(j)
    # One run sees the first token's interval end just above the draw, another run's
    # rounding just below: they pick different tokens, and both margins say it was a tie.
    above, below = Sampler(j).choose(two_tokens(u + 1e-7)), Sampler(j).choose(two_tokens(u - 1e-7))
    assert (above[0], below[0]) == (0, 1)
    assert above[1] < 1e-6 and below[1] < 1e-6


def test_greedy_choices_have_no_margin() -> None:
    assert Sampler(job(temperature=0.0)).choose(LOGITS) == (0, 0.0)
