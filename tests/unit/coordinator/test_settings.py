"""Each service's slice of the settings carries exactly what the full settings say."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError

from swarmgen.coordinator.settings import (
    CoordinatorSettings,
    CreditSettings,
    DispatchSettings,
    EpochSettings,
    JobSettings,
)

SLICES = [JobSettings, DispatchSettings, CreditSettings, EpochSettings]


@pytest.mark.parametrize("cut", SLICES)
def test_a_slice_copies_its_fields_from_the_settings(cut: type) -> None:
    settings = CoordinatorSettings(
        lease_min_s=7,
        aging_points_per_s=9,
        result_wait_max_s=3.0,
        pop_wait_max_s=4.0,
        validator_fee_ppm=11,
        max_attempts=3,
        clock_skew_s=13,
        max_active_jobs=17,
        anonymous_max_active_jobs=1,
        epoch_length_s=19,
        epoch_emission=23,
        stake_unlock_epochs=5,
        slash_ppm=29,
    )
    piece = cut.of(settings)
    for field in dataclasses.fields(piece):
        assert getattr(piece, field.name) == getattr(settings, field.name)


@pytest.mark.parametrize("cut", SLICES)
def test_a_slice_is_frozen(cut: type) -> None:
    piece = cut.of(CoordinatorSettings())
    name = dataclasses.fields(piece)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(piece, name, 1)


def test_blobs_in_a_bucket_need_the_bucket_named() -> None:
    with pytest.raises(ValidationError, match="s3_bucket"):
        CoordinatorSettings(blob_store="s3")
    assert CoordinatorSettings(blob_store="s3", s3_bucket="results").s3_prefix == "blobs"
    with pytest.raises(ValidationError):
        CoordinatorSettings(blob_store="gcs")
