"""Shared fixtures: offline model hubs, and databases (SQLite always, PostgreSQL when it answers).

PostgreSQL tests skip on a machine without the server, but never on CI (``CI=true``),
where a missing server fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PG_URL = os.environ.get("SWARMGEN_TEST_PG", "postgresql://127.0.0.1:5432/test")


def _postgres_or_skip() -> str:
    from swarmgen.store.engine import make_engine

    try:
        engine = make_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but PostgreSQL at {PG_URL} does not answer: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} does not answer: {exc}")
    return PG_URL


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Model hubs are unreachable: fail fast instead of trying the network."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of built and converted models for the whole session.

    ``SWARMGEN_TEST_CACHE`` keeps it between sessions (SmolLM2's conversion takes ~20 s).
    """
    kept = os.environ.get("SWARMGEN_TEST_CACHE")
    return Path(kept) if kept else tmp_path_factory.mktemp("models")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose ``search_path`` is a fresh schema, dropped afterwards."""
    from swarmgen.store.engine import make_engine

    base = _postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Each test using this runs twice: on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'swarmgen.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "swarmgen-test",
    "AWS_SECRET_ACCESS_KEY": "swarmgen-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""What boto3 signs with against the local S3 server (moto checks none of it: tests must
not rely on the server for integrity or authentication)."""


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-API server (moto's) on loopback for the whole session: its endpoint URL."""
    from moto.server import ThreadedMotoServer

    from swarmgen.processes import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty bucket on the local S3 server (credentials set in the environment)."""
    import boto3

    for name, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = f"swarmgen-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    return bucket
