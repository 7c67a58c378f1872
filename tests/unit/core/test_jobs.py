from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.jobs import (
    ImageSpec,
    Job,
    JobState,
    Message,
    TextSpec,
    spec_from_canonical,
    text_sampling_seed,
)
from swarmgen.core.offerings import Offering

OFFERING = Offering.parse("shapes-64@fp32")

image_specs = st.builds(
    ImageSpec,
    prompt=st.text(min_size=1, max_size=50),
    negative_prompt=st.text(max_size=20),
    width=st.sampled_from([64, 128, 512]),
    height=st.sampled_from([64, 256]),
    steps=st.integers(1, 50),
    guidance=st.floats(0, 20).map(lambda g: round(g, 2)),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 4),
)
text_specs = st.builds(
    TextSpec,
    messages=st.lists(
        st.builds(Message, st.sampled_from(["user", "system"]), st.text(max_size=30)), max_size=3
    ).map(tuple),
    max_tokens=st.integers(1, 512),
    temperature=st.integers(0, 200).map(lambda t: t / 100),
    top_p=st.integers(1, 100).map(lambda t: t / 100),
    seed=st.integers(0, 2**32 - 1),
)


@given(image_specs | text_specs)
def test_canonical_form_round_trips(spec: ImageSpec | TextSpec) -> None:
    assert spec_from_canonical(spec.canonical()) == spec


def test_input_digest_covers_every_setting() -> None:
    base = Job("j", OFFERING, ImageSpec(prompt="a red circle", seed=1))
    changed = [
        Job("j", OFFERING, ImageSpec(prompt="a red circle", seed=2)),
        Job("j", OFFERING, ImageSpec(prompt="a red circle", seed=1, steps=19)),
        Job("j", OFFERING, ImageSpec(prompt="a red circle", seed=1, guidance=7.0)),
        Job("j", Offering.parse("shapes-64@int8"), ImageSpec(prompt="a red circle", seed=1)),
    ]
    assert len({base.input_digest(), *(job.input_digest() for job in changed)}) == 5
    assert Job("other-id", OFFERING, base.spec).input_digest() == base.input_digest()


def test_work_units_scale_with_size() -> None:
    small = ImageSpec(prompt="x", width=64, height=64, steps=10)
    assert ImageSpec(prompt="x", width=128, height=64, steps=10, n=2).work_units() == (
        4 * small.work_units()
    )
    assert TextSpec(prompt="abcd" * 10, max_tokens=5).work_units() == 15


def test_sampling_seed_depends_on_seed_and_job() -> None:
    seeds = {text_sampling_seed(s, j) for s in (1, 2) for j in ("a", "b")}
    assert len(seeds) == 4
    assert text_sampling_seed(1, "a") == text_sampling_seed(1, "a")
    assert 0 <= text_sampling_seed(1, "a") < 2**63


def test_final_states() -> None:
    assert {s for s in JobState if s.final} == {
        JobState.COMPLETED,
        JobState.FAILED,
        JobState.CANCELLED,
    }
