"""Schema migrations on a real SQLite file: upgrades keep queued work runnable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from swarmgen.core.scheduling import queue_key
from swarmgen.store import SqlStore, make_engine, migrate
from swarmgen.store import schema as t
from swarmgen.store.engine import alembic_config


def _text_job(
    job_id: str, validates: str | None, score_tokens: list[int] | None
) -> dict[str, object]:
    spec = {"kind": "text", "prompt": "hi", "max_tokens": 4, "temperature": 0.8, "seed": 1}
    return {
        "id": job_id,
        "user_id": t.SYSTEM_USER,
        "kind": "text",
        "offering": "echo-text@fp32",
        "spec": json.dumps(spec),
        "input_digest": "0" * 64,
        "pixels": 0,
        "priority": 0,
        "price": 0,
        "lease_ttl_s": 30,
        "state": "queued",
        "created_ms": 1,
        "updated_ms": 1,
        "attempts": 0,
        "validates": validates,
        "score_tokens": json.dumps(score_tokens) if score_tokens is not None else None,
    }


def _job_row(job_id: str, **fields: object) -> dict[str, object]:
    """A text job's row as the schemas after 0004 hold it (no ``score_tokens``), with
    ``fields`` changed."""
    row = _text_job(job_id, None, None) | fields
    del row["score_tokens"]
    return row


def _insert(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    """Insert job rows in raw SQL, as an older schema (not ``t.jobs``) holds them."""
    with engine.begin() as conn:
        for row in rows:
            columns = ", ".join(row)
            values = ", ".join(f":{name}" for name in row)
            conn.execute(sa.text(f"INSERT INTO jobs ({columns}) VALUES ({values})"), row)


def test_queued_text_validations_draw_with_their_originals_rng_after_0004(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0003")
    rows = [_text_job("orig", None, None), _text_job("check", "orig", [5, 6])]
    _insert(engine, rows)
    migrate(engine)
    with engine.connect() as conn:
        found = dict(conn.execute(sa.select(t.jobs.c.id, t.jobs.c.sampling_id)).all())
        columns = {c["name"] for c in sa.inspect(conn).get_columns("jobs")}
    # The original keeps seeding by its own id (no sampling id); its check uses that id.
    assert found == {"orig": None, "check": "orig"}
    assert columns == {c.name for c in t.jobs.columns}


def test_0004_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    from alembic import command

    engine = make_engine(f"sqlite:///{tmp_path / 'db.db'}")
    migrate(engine)
    command.downgrade(alembic_config(engine), "0003")
    with engine.connect() as conn:
        assert "score_tokens" in {c["name"] for c in sa.inspect(conn).get_columns("jobs")}
    migrate(engine)
    with engine.connect() as conn:
        assert "sampling_id" in {c["name"] for c in sa.inspect(conn).get_columns("jobs")}


def test_0005_dates_held_leases_and_downgrades(tmp_path: Path) -> None:
    from alembic import command

    engine = make_engine(f"sqlite:///{tmp_path / 'db.db'}")
    migrate(engine, "0004")
    _insert(engine, [_job_row("held", state="leased", lease_expires_ms=50_000)])
    migrate(engine)
    with engine.connect() as conn:
        leased = conn.execute(sa.select(t.jobs.c.leased_ms)).scalar_one()
        tables = set(sa.inspect(conn).get_table_names())
    assert leased == 50_000 - 30 * 1000  # one TTL before the lease expires
    assert "missed_seats" in tables
    command.downgrade(alembic_config(engine), "0004")
    with engine.connect() as conn:
        assert "leased_ms" not in {c["name"] for c in sa.inspect(conn).get_columns("jobs")}
        assert "missed_seats" not in set(sa.inspect(conn).get_table_names())


def test_0006_numbers_existing_jobs_by_their_last_change_and_downgrades(database_url: str) -> None:
    from alembic import command

    engine = make_engine(database_url)
    migrate(engine, "0005")
    _insert(engine, [_job_row("older", updated_ms=9), _job_row("newer", updated_ms=3)])
    migrate(engine)
    c = t.jobs.c
    with engine.begin() as conn:
        assert dict(conn.execute(sa.select(c.id, c.change_seq)).all()) == {"newer": 1, "older": 2}
        conn.execute(sa.update(t.jobs).where(c.id == "newer").values(state="cancelled"))
    with engine.connect() as conn:
        assert conn.execute(sa.select(c.change_seq).where(c.id == "newer")).scalar_one() == 3
    command.downgrade(alembic_config(engine), "0005")
    with engine.connect() as conn:
        assert "change_seq" not in {col["name"] for col in sa.inspect(conn).get_columns("jobs")}
    migrate(engine)  # and up again, triggers and all
    with engine.begin() as conn:
        conn.execute(sa.update(t.jobs).where(c.id == "older").values(state="cancelled"))
    with engine.connect() as conn:
        assert conn.execute(sa.select(c.change_seq).where(c.id == "older")).scalar_one() == 3
    engine.dispose()


def test_the_migrations_build_exactly_the_tables_and_indexes_of_the_schema(
    database_url: str,
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(database_url)
    migrate(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), t.metadata) == []
    engine.dispose()


def test_0009_dates_waiting_draws_keeps_the_change_feed_and_downgrades(database_url: str) -> None:
    from alembic import command

    engine = make_engine(database_url)
    migrate(engine, "0008")
    rows = [
        _job_row(job_id, validates="claim", state=state, updated_ms=7_000, assigned_worker=who)
        for job_id, state, who in (
            ("drawn", "queued", "w1"),
            ("undrawn", "queued", None),
            ("held", "leased", "w2"),
        )
    ]
    _insert(engine, rows)
    migrate(engine)
    c = t.jobs.c
    with engine.begin() as conn:
        dated = dict(conn.execute(sa.select(c.id, c.assigned_ms)).all())
        before = conn.execute(sa.select(c.change_seq).where(c.id == "held")).scalar_one()
        conn.execute(sa.update(t.jobs).where(c.id == "held").values(state="cancelled"))
    # a waiting draw counts from its last change; nothing else is dated
    assert dated == {"drawn": 7_000, "undrawn": None, "held": None}
    with engine.connect() as conn:  # the change feed's triggers survive the new column
        assert conn.execute(sa.select(c.change_seq).where(c.id == "held")).scalar_one() > before
    command.downgrade(alembic_config(engine), "0008")
    with engine.connect() as conn:
        assert "assigned_ms" not in {col["name"] for col in sa.inspect(conn).get_columns("jobs")}
    engine.dispose()


def test_0010_places_queued_jobs_by_priority_and_age_and_downgrades(database_url: str) -> None:
    """Rows from before 0010 get the key the default aging (100 points/s) gives them, so
    dispatch keeps their order: 1 priority point is worth 10 ms of waiting."""
    from alembic import command

    engine = make_engine(database_url)
    migrate(engine, "0009")
    rows = [
        _job_row(job_id, state=state, priority=priority, created_ms=created_ms)
        for job_id, state, priority, created_ms in (
            ("rich", "queued", 2, 10_000),  # 20 ms of waiting's worth ahead of "old"...
            ("old", "queued", 0, 9_990),  # ...which waited 10 ms longer: "rich" goes first
            ("older", "queued", 0, 9_970),  # 30 ms longer: ahead of "rich"
            ("held", "leased", 5, 1),
        )
    ]
    _insert(engine, rows)
    migrate(engine)
    c = t.jobs.c
    with engine.connect() as conn:
        keys = dict(conn.execute(sa.select(c.id, c.queue_key)).all())
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("jobs")}
        counters = dict(conn.execute(sa.select(t.counters.c.name, t.counters.c.value)).all())
    assert counters["queue_aging"] == 100  # what the keys were made with
    assert keys == {
        "rich": queue_key(2, 10_000, 100),
        "old": queue_key(0, 9_990, 100),
        "older": queue_key(0, 9_970, 100),
        "held": queue_key(5, 1, 100),
    }
    assert {"ix_jobs_queue", "ix_jobs_seats"} <= indexes and "ix_jobs_dispatch" not in indexes
    store = SqlStore(engine)
    with store.transaction() as tx:
        leased = tx.dispatch.lease("w0", ["echo-text@fp32"], 0, 2, 20_000)
        assert {j.id for j in leased} == {"older", "rich"}
        assert tx.dispatch.queue_position(tx.jobs.get("old")) == 0
    command.downgrade(alembic_config(engine), "0009")
    with engine.connect() as conn:
        assert "queue_key" not in {col["name"] for col in sa.inspect(conn).get_columns("jobs")}
        assert "ix_jobs_dispatch" in {i["name"] for i in sa.inspect(conn).get_indexes("jobs")}
    engine.dispose()
