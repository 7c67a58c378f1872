"""What every repository shares: the transaction's connection and the dialect's INSERT.

A repository never opens a transaction of its own; it runs on the connection of the
unit of work that handed it out (:meth:`swarmgen.store.sql.SqlStore.transaction`), so
every change made through any repository of one transaction commits or rolls back
together.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def dialect_insert(dialect: str, table: Table) -> Any:
    """Dialect ``dialect``'s INSERT, which knows ``ON CONFLICT`` on SQLite and PostgreSQL."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class Repository:
    """A set of queries on one table family, bound to one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def dialect_insert(self, table: Table) -> Any:
        """This connection's dialect's INSERT (:func:`dialect_insert`)."""
        return dialect_insert(self.conn.dialect.name, table)
