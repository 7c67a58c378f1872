"""Engines and migrations.

SQLite gets WAL, ``synchronous=NORMAL``, a busy timeout, and ``BEGIN IMMEDIATE`` for
every transaction, so a read that turns into a write never dead-locks against another
connection; a connection marked :data:`READ_ONLY` begins deferred instead (it never
writes, and under WAL it reads the last commit without waiting for the writer). No
commit checkpoints the WAL: the store does, in a thread (:mod:`swarmgen.store.checkpoint`).
PostgreSQL needs nothing special here; dispatch adds ``FOR UPDATE SKIP LOCKED`` so
replicas can share one database.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import StaticPool


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


def relays_wakeups(url: str) -> bool:
    """Whether the database at ``url`` carries wake-ups between server processes.

    PostgreSQL does (``LISTEN/NOTIFY``, :mod:`swarmgen.store.wakeups`); SQLite does not,
    so processes sharing a SQLite file learn of each other's jobs only by looking."""
    return normalize_url(url).startswith("postgresql")


BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite connection waits for another process's lock before it fails."""

READ_ONLY = "swarmgen_read_only"
"""Execution option of a connection whose transactions only read."""


def json_text(value: Any) -> str:
    """The text a JSON column stores: orjson's compact UTF-8, several times faster than
    the standard library's default. What orjson refuses (integers past 64 bits) is
    written by the standard library, as it always was; either reads back the same."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return create_engine(
            url, pool_size=10, max_overflow=10, pool_pre_ping=True, json_serializer=json_text
        )
    kwargs: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": 30},
        "json_serializer": json_text,
    }
    if url in ("sqlite://", "sqlite:///:memory:"):
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below rule
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("swarmgen.store").joinpath("migrations"))
    )
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)
