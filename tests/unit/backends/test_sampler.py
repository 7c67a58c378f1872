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
