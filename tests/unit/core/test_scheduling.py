from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.jobs import ImageSpec, TextSpec
from swarmgen.core.offerings import Offering
from swarmgen.core.scheduling import (
    LEASE_MAX_S,
    LEASE_MIN_S,
    Capabilities,
    QueuedJob,
    choose,
    fits,
    lease_ttl_s,
)

IMG = Offering.parse("shapes-64@fp32")
TXT = Offering.parse("smollm2-135m@fp32")
CAPS = Capabilities(offerings=frozenset({IMG, TXT}), max_pixels=64 * 64, max_batch=2)


def job(i: str, offering: Offering = IMG, pixels: int = 4096, priority: int = 0, t: int = 0):  # type: ignore[no-untyped-def]
    return QueuedJob(i, offering, pixels, priority, t)


def test_fits_by_offering_and_size() -> None:
    assert fits(job("a"), CAPS)
    assert not fits(job("b", pixels=128 * 128), CAPS)
    assert not fits(job("c", Offering.parse("shapes-64@int8")), CAPS)


def test_choose_orders_by_priority_then_age_and_caps_the_batch() -> None:
    queue = [
        job("old", t=1),
        job("new", t=5),
        job("vip", priority=3, t=9),
        job("big", t=0, pixels=10**6),
    ]
    assert choose(queue, CAPS) == ["vip", "old"]
    assert choose(queue, CAPS, limit=1) == ["vip"]


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 100)), max_size=20))
def test_choose_never_skips_a_better_job(entries: list[tuple[int, int]]) -> None:
    queue = [job(f"j{i}", priority=p, t=t) for i, (p, t) in enumerate(entries)]
    chosen = choose(queue, CAPS)
    rest = [j for j in queue if j.id not in chosen]
    for picked in (j for j in queue if j.id in chosen):
        for other in rest:
            assert (-picked.priority, picked.created_ms) <= (-other.priority, other.created_ms)


@given(st.integers(1, 50), st.sampled_from([64, 512, 1024]), st.integers(1, 4), st.integers(1, 512))
def test_lease_grows_with_size_within_bounds(steps: int, side: int, n: int, tokens: int) -> None:
    small = lease_ttl_s(ImageSpec(prompt="x", steps=steps, width=side, height=side, n=1))
    big = lease_ttl_s(ImageSpec(prompt="x", steps=steps, width=side, height=side, n=n))
    assert LEASE_MIN_S <= small <= big <= LEASE_MAX_S
    assert LEASE_MIN_S <= lease_ttl_s(TextSpec(prompt="x", max_tokens=tokens)) <= LEASE_MAX_S
    assert lease_ttl_s(TextSpec(prompt="x", max_tokens=512)) > lease_ttl_s(
        TextSpec(prompt="x", max_tokens=1)
    )
    assert lease_ttl_s(ImageSpec(prompt="x"), min_s=2) < LEASE_MIN_S
