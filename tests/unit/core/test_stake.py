import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core import accounts, credits, stake
from swarmgen.core.credits import PPM
from swarmgen.core.ledger import Ledger
from swarmgen.core.stake import StakePolicy
from swarmgen.errors import Conflict, InsufficientCredits

POLICY = StakePolicy(unlock_delay_epochs=2, slash_ppm=250_000)


def _staked(amount: int) -> Ledger:
    ledger = Ledger()
    ledger.append([credits.grant("owner", 1000)], epoch=0)
    ledger.append([stake.lock(ledger.balances, "owner", "w", amount)], epoch=0)
    return ledger


def test_lock_needs_funds() -> None:
    ledger = _staked(400)
    assert ledger.balance(accounts.stake("w")) == 400
    with pytest.raises(InsufficientCredits):
        stake.lock(ledger.balances, "owner", "w", 601)


def test_unlock_waits_for_the_delay() -> None:
    ledger = _staked(400)
    ledger.append([stake.request_unlock(ledger.balances, "w", 150, 3, POLICY)], epoch=3)
    at = stake.unlock_epoch(ledger.entries, "w")
    assert at == 3 + POLICY.unlock_delay_epochs
    with pytest.raises(Conflict):
        stake.unlock(ledger.balances, "owner", "w", at - 1, at)
    ledger.append([stake.unlock(ledger.balances, "owner", "w", at, at)], epoch=at)
    assert ledger.balance(accounts.user("owner")) == 600 + 150
    assert ledger.balance(accounts.stake("w")) == 250
    with pytest.raises(Conflict):
        stake.unlock(ledger.balances, "owner", "w", at, at)


def test_a_later_request_restarts_the_wait() -> None:
    ledger = _staked(400)
    ledger.append([stake.request_unlock(ledger.balances, "w", 100, 1, POLICY)], epoch=1)
    ledger.append([stake.request_unlock(ledger.balances, "w", 100, 2, POLICY)], epoch=2)
    assert stake.unlock_epoch(ledger.entries, "w") == 4
    assert stake.unlock_epoch(ledger.entries, "other") is None
    with pytest.raises(Conflict):
        stake.request_unlock(ledger.balances, "w", 201, 2, POLICY)


@given(st.integers(1, 1000), st.integers(0, 1000), st.integers(0, PPM))
def test_slash_reaches_unbonding_stake(locked: int, unbond: int, ppm: int) -> None:
    ledger = Ledger()
    ledger.append([credits.grant("owner", locked)], epoch=0)
    ledger.append([stake.lock(ledger.balances, "owner", "w", locked)], epoch=0)
    unbond = min(unbond, locked)
    if unbond:
        ledger.append([stake.request_unlock(ledger.balances, "w", unbond, 0, POLICY)], epoch=0)
    policy = StakePolicy(unlock_delay_epochs=1, slash_ppm=ppm)
    ledger.append(stake.slash(ledger.balances, "w", policy), epoch=0)
    burned = ledger.totals().burned
    assert burned == locked * ppm // PPM
    assert stake.slashable(ledger.balances, "w") == locked - burned
    if burned <= locked - unbond:
        assert ledger.balance(accounts.unbonding("w")) == unbond
    assert ledger.totals().conserved


def test_policy_bounds() -> None:
    with pytest.raises(ValueError):
        StakePolicy(unlock_delay_epochs=0)
    with pytest.raises(ValueError):
        StakePolicy(slash_ppm=PPM + 1)
