"""An offering's own minimum stake (registry ``min_stake``) overrides the setting: a
worker is leased jobs only of the offerings whose minimum its stake meets."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.test_verification import owned, stake

from swarmgen.core.stake import MIN_STAKE
from swarmgen.sdk.client import SwarmgenAPIError

TEXT_TABLE = '[models."echo-text"]\nkind = "text"'


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, object]:
    shipped = resources.files("swarmgen").joinpath("models.toml").read_text("utf-8")
    assert shipped.count(TEXT_TABLE) == 1
    cheaper = shipped.replace(
        'offerings.fp32 = { price_multiplier = 1, emission_share = 1 }\n\n[models."shapes-64"]',
        "offerings.fp32 = { price_multiplier = 1, emission_share = 1, min_stake = 1000 }"
        '\n\n[models."shapes-64"]',
    )
    assert cheaper != shipped  # echo-text (the table before shapes-64) asks 1000 only
    path = tmp_path / "models.toml"
    path.write_text(cheaper)
    return {"min_stake": MIN_STAKE, "registry": path}


def test_a_worker_serves_only_the_offerings_whose_minimum_it_meets(env: Env) -> None:
    worker = owned(env, "ann")  # serves echo-image and echo-text
    image = str(env.submit(env.image(width=64, height=64))["id"])
    text = str(env.submit(env.text())["id"])
    with pytest.raises(SwarmgenAPIError) as refused:
        worker.pop(0, 4)
    assert refused.value.code == "stake_required"
    assert refused.value.details["min_stake"] == 1000  # the least it could lock to serve
    stake(env, "ann", worker, 1000)
    assert [a["job_id"] for a in worker.pop(0, 4)] == [text]
    stake(env, "ann", worker, MIN_STAKE - 1000)
    assert [a["job_id"] for a in worker.pop(0, 4)] == [image]
