"""The seeded text sampler: greedy, temperature, top-p and replayability (no model)."""

from __future__ import annotations

import math

import pytest

from swarmgen.backends.base import BackendError
from swarmgen.backends.precision import load_dtype
from swarmgen.core.jobs import Job, TextSpec
from swarmgen.core.offerings import Offering, Precision

torch = pytest.importorskip("torch")

from swarmgen.backends.transformers_text import Sampler  # noqa: E402

OFFERING = Offering.parse("smollm2-135m@fp32")
LOGITS = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])


def job(job_id: str = "j", temperature: float = 1.0, top_p: float = 1.0, seed: int = 1) -> Job:
    spec = TextSpec(prompt="x", temperature=temperature, top_p=top_p, seed=seed)
    return Job(job_id, OFFERING, spec)


def draws(sampler: Sampler, count: int) -> list[int]:
    return [sampler.choose(LOGITS) for _ in range(count)]


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


def test_int4_has_no_torch_dtype() -> None:
    with pytest.raises(BackendError, match="int4"):
        load_dtype(Precision.INT4)
    assert load_dtype(Precision.INT8) == torch.float32


def two_tokens(first: float) -> torch.Tensor:
    """Logits of a two-token distribution whose first token has probability ``first``."""
    return torch.tensor([math.log(first), math.log(1.0 - first)], dtype=torch.float64)


def first_uniform(j: Job) -> float:
    """The job's first uniform draw (the same generator the sampler seeds)."""
    sampler = Sampler(j)
    assert sampler.generator is not None
    return float(torch.rand((), generator=sampler.generator, dtype=torch.float64))


def test_replay_of_honest_choices_returns_them() -> None:
    honest = draws(Sampler(job()), 50)
    replayer = Sampler(job())
    assert [replayer.replay(LOGITS, token) for token in honest] == honest


def test_replay_forgives_a_draw_within_rounding_of_the_boundary() -> None:
    j = job()
    u = first_uniform(j)
    # The worker saw the first token's interval end just above the draw; the
    # validator's rounding puts it just below. Either side may honestly claim it.
    assert Sampler(j).choose(two_tokens(u + 1e-6)) == 0
    assert Sampler(j).choose(two_tokens(u - 1e-6)) == 1
    assert Sampler(j).replay(two_tokens(u - 1e-6), claimed=0) == 0


def test_replay_rejects_a_token_the_draw_does_not_reach() -> None:
    j = job()
    u = first_uniform(j)
    far = max(1e-3, u - 0.01)
    assert Sampler(j).replay(two_tokens(far), claimed=0) == 1
    assert Sampler(j).replay(LOGITS, claimed=len(LOGITS) + 7) == Sampler(j).choose(LOGITS)
