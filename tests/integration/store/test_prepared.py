"""One-statement reads on a pooled driver connection (:mod:`swarmgen.store.prepared`)."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, select

from swarmgen.store import SqlStore
from swarmgen.store import schema as t
from swarmgen.store.prepared import Prepared
from swarmgen.store.records import UserRecord


def test_a_prepared_read_binds_its_own_values_and_those_given(sql: SqlStore) -> None:
    with sql.transaction() as tx:
        for i, name in enumerate(["ann", "bob", "cy"]):
            tx.users.create(UserRecord(f"u{i}", name, "user", i))
    users = t.users.c
    after = select(users.name).where(users.created_ms > bindparam("after"))
    first = Prepared(sql.engine, after.order_by(users.created_ms).limit(1))
    assert first.first(after=0) == {"name": "bob"}  # its LIMIT is bound by itself
    assert first.first(after=2) is None


def test_a_prepared_read_refuses_what_it_cannot_run_raw(sql: SqlStore) -> None:
    users, jobs = t.users.c, t.jobs.c
    with pytest.raises(ValueError, match="expanding"):
        Prepared(sql.engine, select(users.id).where(users.id.in_(bindparam("ids", expanding=True))))
    spec = select(jobs.spec).where(jobs.id == bindparam("id"))
    if sql.engine.dialect.name == "sqlite":  # JSON is text there; psycopg decodes it itself
        with pytest.raises(ValueError, match="spec"):
            Prepared(sql.engine, spec)
    else:
        Prepared(sql.engine, spec)


def test_a_prepared_read_hands_its_connection_back_to_transactions_as_it_found_it(
    sql: SqlStore,
) -> None:
    users = t.users.c
    name_of = Prepared(sql.engine, select(users.name).where(users.id == bindparam("id")))
    with sql.transaction() as tx:
        tx.users.create(UserRecord("u0", "ann", "user", 0))
    assert name_of.first(id="u0") == {"name": "ann"}  # on PostgreSQL, in autocommit
    # the pool hands the same connection to the next transaction: were it still in
    # autocommit, the write below would stay when the transaction rolls back
    with pytest.raises(RuntimeError), sql.transaction() as tx:
        tx.users.create(UserRecord("u1", "bob", "user", 1))
        raise RuntimeError("rolled back")
    assert name_of.first(id="u1") is None
    assert name_of.first(id="u0") == {"name": "ann"}
