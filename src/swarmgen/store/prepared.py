"""One-statement reads on a pooled driver connection, for the hottest lookups.

A transaction through SQLAlchemy (a pooled ``Connection``, the ``begin`` event's
``BEGIN``, the statement through ``Connection.execute``, the commit) cost about 130 µs of
CPU for a one-row read on this project's hosts, and about 450 µs when it ran after the
host had idled a few milliseconds, as every request does at light load (a large code
path runs from cold caches). The same read on a pooled driver connection cost 23 and
130 µs. A read that is one statement needs no transaction of its own: on SQLite the
driver connection is in autocommit (:mod:`swarmgen.store.engine`) and one ``SELECT`` is
one consistent snapshot; on PostgreSQL the read runs in the driver's autocommit, so
psycopg sends no ``BEGIN`` before it and no ``ROLLBACK`` after it (two round trips of
the four a lookup took, each of which wakes the database's backend: about 75 µs apiece
at light load on this project's hosts).

:class:`Prepared` compiles a SQLAlchemy statement once for the engine's dialect, so the
statement is still written once, in Core, and runs the same on either database. Only
statements without expanding parameters, whose columns need no result processing
(plain strings and numbers), belong here: :class:`Prepared` refuses others. These reads
are not seen by SQLAlchemy's cursor events; nothing that writes goes through here. An
in-memory SQLite database has one connection, which a read would share with an open
write transaction: the store reads there through a transaction instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.sql import Select


class Prepared:
    """``statement`` compiled once for ``engine``; :meth:`first` runs it."""

    def __init__(self, engine: Engine, statement: Select[Any]) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        if "POSTCOMPILE" in str(compiled):
            raise ValueError("a prepared statement takes no expanding parameter")
        for column in statement.selected_columns:
            if column.type.result_processor(engine.dialect, None) is not None:
                raise ValueError(f"column {column.name} needs its type's result processing")
        self._engine = engine
        self._autocommit = engine.dialect.name == "postgresql"
        """psycopg's connections leave autocommit off for SQLAlchemy's transactions; a
        read here turns it on for itself (SQLite's connections are always in it)."""
        self._sql = str(compiled)
        self._defaults = dict(compiled.params)
        """Values the statement binds itself (a ``LIMIT``, a literal), unless given."""
        self._positions = compiled.positiontup
        """Parameter names in order for a positional paramstyle (SQLite's ``qmark``);
        None for a named one (psycopg's ``pyformat``)."""

    def first(self, **values: Any) -> Mapping[str, Any] | None:
        """The first row for ``values`` (the statement's bound parameters), by column."""
        given = {**self._defaults, **values}
        params: Any = given if self._positions is None else [given[n] for n in self._positions]
        conn = self._engine.raw_connection()
        driver: Any = conn.driver_connection
        try:
            if self._autocommit:
                driver.autocommit = True
            cursor = conn.cursor()
            try:
                cursor.execute(self._sql, params)
                row = cursor.fetchone()
                names = [column[0] for column in cursor.description or ()]
            finally:
                cursor.close()
        finally:
            if self._autocommit and not driver.closed:
                driver.autocommit = False  # as SQLAlchemy's transactions expect it
            conn.close()  # back to the pool
        return None if row is None else dict(zip(names, row, strict=True))
