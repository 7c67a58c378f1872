"""Which sealed epochs the public ledger may serve (:func:`publishable`)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from swarmgen.coordinator.auditing import HOLD_MAX_EPOCHS, publishable

epochs = st.integers(min_value=0, max_value=50)
pending = st.none() | epochs


@given(epochs, st.integers(min_value=-1, max_value=50), pending, st.booleans())
def test_an_unsealed_epoch_is_never_published(
    epoch: int, last_sealed: int, oldest: int | None, open_jobs: bool
) -> None:
    if epoch > last_sealed:
        assert not publishable(epoch, last_sealed, oldest, open_jobs)


@given(epochs, epochs, epochs, st.booleans())
def test_a_pending_check_holds_its_epoch_and_later_ones_until_the_cap(
    epoch: int, lag: int, opened: int, open_jobs: bool
) -> None:
    last_sealed = epoch + lag
    if opened <= epoch and lag < HOLD_MAX_EPOCHS:
        assert not publishable(epoch, last_sealed, opened, open_jobs)


@given(epochs, st.integers(min_value=0, max_value=HOLD_MAX_EPOCHS - 1))
def test_an_open_job_holds_its_epoch(epoch: int, lag: int) -> None:
    assert not publishable(epoch, epoch + lag, None, open_jobs=True)


@given(epochs, pending, st.booleans())
def test_every_sealed_epoch_is_published_at_the_cap(
    epoch: int, oldest: int | None, open_jobs: bool
) -> None:
    assert publishable(epoch, epoch + HOLD_MAX_EPOCHS, oldest, open_jobs)


def test_a_sealed_epoch_with_nothing_open_is_published_at_once() -> None:
    assert publishable(4, 4, None, open_jobs=False)
    assert publishable(4, 4, 5, open_jobs=False)  # a later epoch's check does not hold it
