"""Three coordinator replicas on PostgreSQL with blobs in a shared bucket, six workers,
2,000 jobs, the leader killed with SIGKILL mid-run: nothing accepted is lost or paid
twice, each epoch closes once, the ledger verifies and conserves credits.

The run is ``bench/faults.py``'s campaign with the leader's kill only (the
bench adds ten kills and 30 % worker churn).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from tests.conftest import S3_CREDENTIALS

from swarmgen.localnet import LocalNetwork

pytestmark = pytest.mark.postgres

BENCH = Path(__file__).parents[2] / "bench"
JOBS = 2000


def faults() -> ModuleType:
    spec = importlib.util.spec_from_file_location("faults", BENCH / "faults.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["faults"] = module
    spec.loader.exec_module(module)
    return module


def test_the_leader_killed_mid_run_loses_and_doubles_nothing(
    tmp_path: Path, postgres_url: str, s3_endpoint: str, s3_bucket: str
) -> None:
    bench = faults()
    env = {
        **S3_CREDENTIALS,
        "SWARMGEN_BLOB_STORE": "s3",
        "SWARMGEN_S3_BUCKET": s3_bucket,
        "SWARMGEN_S3_ENDPOINT_URL": s3_endpoint,
        **bench.settings_env(epoch_s=4),
    }
    with LocalNetwork(tmp_path / "data", database_url=postgres_url, lease_min_s=5) as net:
        result = bench.campaign(
            net,
            replicas=3,
            workers=6,
            jobs=JOBS,
            batch=16,
            kills=1,  # the first kill is the leader's
            kill_every_s=3.0,
            churn=0.0,
            churn_every_s=0.0,
            env=env,
            settle_s=300.0,  # a slow host drains slowly; a stalled job never does
        )
        logs = {name: (net.data / "logs" / f"{name}.log").read_text() for name in net.replicas}
    assert result["accepted"] == JOBS, result
    assert (result["lost"], result["paid_twice"], result["unreserved"]) == (0, 0, 0), result
    assert result["completed"] == JOBS
    assert result["double_closes"] == 0 and result["epochs_sealed"] >= 2, result
    assert result["ledger_ok"], result["ledger_report"]
    assert result["honest_invalid"] == 0, result
    assert result["kills"] == 1
    # another replica took the periodic work within seconds of the leader's death
    assert result["failover_s_max"] is not None and result["failover_s_max"] < 5.0, result
    leaders = [name for name, log in logs.items() if "leading the periodic tasks" in log]
    assert len(leaders) >= 2, leaders
    # the blobs went to the bucket, not the data folder
    assert not (net.data / "blobs").exists() or not any((net.data / "blobs").rglob("*"))
