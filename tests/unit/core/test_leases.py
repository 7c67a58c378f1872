"""A lease's hard end: heartbeats move the expiry on, never past ``leased_ms + k × TTL``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.leases import (
    LEASE_MAX_FACTOR,
    MAX_FACTOR_LIMIT,
    check_factor,
    extended_expiry_ms,
    hard_end_ms,
)


def test_the_hard_end_is_a_multiple_of_the_ttl_from_the_lease_start() -> None:
    assert hard_end_ms(1_000, 30) == 1_000 + LEASE_MAX_FACTOR * 30_000
    assert hard_end_ms(0, 10, factor=1) == 10_000


def test_a_heartbeat_extends_by_one_ttl_until_the_cap_then_stops() -> None:
    assert extended_expiry_ms(5_000, 0, 10, factor=3) == 15_000
    assert extended_expiry_ms(25_000, 0, 10, factor=3) == 30_000  # capped
    assert extended_expiry_ms(10**9, 0, 10, factor=3) == 30_000


def test_a_lease_without_a_start_gets_the_plain_ttl() -> None:
    assert extended_expiry_ms(5_000, None, 10) == 15_000


@pytest.mark.parametrize("factor", [0, -1, MAX_FACTOR_LIMIT + 1])
def test_a_factor_that_is_no_cap_is_refused(factor: int) -> None:
    with pytest.raises(ValueError, match="lease max factor"):
        check_factor(factor)
    with pytest.raises(ValueError):
        extended_expiry_ms(0, 0, 10, factor)


@given(
    leased=st.integers(0, 10**13),
    ttl=st.integers(1, 86_400),
    factor=st.integers(1, MAX_FACTOR_LIMIT),
    beats=st.lists(st.integers(0, 10**7), max_size=50),
)
def test_no_sequence_of_heartbeats_holds_a_lease_past_its_hard_end(
    leased: int, ttl: int, factor: int, beats: list[int]
) -> None:
    """An adversary picks when to heartbeat (as often, as late as it likes)."""
    now, expiry = leased, leased + ttl * 1000
    end = hard_end_ms(leased, ttl, factor)
    for gap in beats:
        now += gap
        if now > expiry:
            break  # the reaper has taken the job back
        expiry = extended_expiry_ms(now, leased, ttl, factor)
        assert now <= expiry <= end
    assert expiry <= end
