"""Which sealed epochs the public ledger may serve (:func:`publishable`)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from swarmgen.coordinator.auditing import publishable

epochs = st.integers(min_value=0, max_value=50)
pending = st.none() | epochs


@given(epochs, st.integers(min_value=-1, max_value=50), pending, st.booleans())
def test_an_unsealed_epoch_is_never_published(
    epoch: int, last_sealed: int, oldest: int | None, open_jobs: bool
) -> None:
    if epoch > last_sealed:
        assert not publishable(epoch, last_sealed, oldest, open_jobs)


@given(epochs, epochs, epochs, st.booleans())
def test_a_pending_check_holds_its_epoch_and_later_ones_however_long_ago_they_were_sealed(
    epoch: int, lag: int, opened: int, open_jobs: bool
) -> None:
    if opened <= epoch:
        assert not publishable(epoch, epoch + lag, opened, open_jobs)


@given(epochs, epochs, pending)
def test_an_open_job_holds_its_epoch_however_long_ago_it_was_sealed(
    epoch: int, lag: int, oldest: int | None
) -> None:
    """No cap: publishing an open job's reservation would tell whoever leases it that it
    is no validation seat (a seat reserves nothing). A job no worker takes expires."""
    assert not publishable(epoch, epoch + lag, oldest, open_jobs=True)


def test_a_sealed_epoch_with_nothing_open_is_published_at_once() -> None:
    assert publishable(4, 4, None, open_jobs=False)
    assert publishable(4, 4, 5, open_jobs=False)  # a later epoch's check does not hold it
