import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.priority import PriorityPolicy, admit, priority
from swarmgen.errors import RateLimited

policies = st.builds(
    PriorityPolicy,
    points_per_doubling=st.integers(0, 10_000),
    max_balance_bits=st.integers(0, 64),
    points_per_s=st.integers(1, 10_000),
    anonymous_penalty=st.integers(0, 100_000),
)
balances = st.integers(0, 2**70)
waits = st.integers(0, 10**9)


@given(policies, balances, waits, st.integers(0, 10**6), st.booleans())
def test_priority_never_falls_as_a_job_waits(
    policy: PriorityPolicy, balance: int, waited: int, more: int, anonymous: bool
) -> None:
    now = priority(balance, waited, policy, anonymous=anonymous)
    assert priority(balance, waited + more, policy, anonymous=anonymous) >= now


@given(policies, balances, balances, waits, st.booleans(), st.booleans())
def test_nothing_starves(
    policy: PriorityPolicy, poor: int, rich: int, waited: int, anon_old: bool, anon_new: bool
) -> None:
    """A job that has waited the bound longer outranks any other job, whatever the balances."""
    old = priority(poor, waited + policy.starvation_bound_ms(), policy, anonymous=anon_old)
    new = priority(rich, waited, policy, anonymous=anon_new)
    assert old > new


@given(policies, balances, waits)
def test_anonymous_ranks_below_keyed_at_the_same_age(
    policy: PriorityPolicy, balance: int, waited: int
) -> None:
    keyed = priority(balance, waited, policy)
    anonymous = priority(balance, waited, policy, anonymous=True)
    assert anonymous <= keyed
    if policy.anonymous_penalty:
        assert anonymous < keyed


def test_richer_goes_first_at_the_same_age() -> None:
    policy = PriorityPolicy()
    assert priority(10**9, 0, policy) > priority(10**3, 0, policy)


def test_admission_limit_answers_with_retry_after() -> None:
    admit(1, 2, 5)
    with pytest.raises(RateLimited) as caught:
        admit(2, 2, 0)
    assert caught.value.status == 429
    assert caught.value.details["retry_after"] == 1


def test_zero_aging_is_refused() -> None:
    with pytest.raises(ValueError):
        PriorityPolicy(points_per_s=0)
