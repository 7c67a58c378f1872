"""Persistence behind a port: one unit of work handing out typed repositories.

Services depend on :class:`Store` and :class:`Transaction` (:mod:`swarmgen.store.port`)
and the records of :mod:`swarmgen.store.records`; :class:`SqlStore` is the adapter on
SQLAlchemy 2, over SQLite (WAL, the embedded default) or PostgreSQL, and
:class:`swarmgen.store.memory.MemoryStore` the in-memory fake that answers the same
contract tests. Nothing outside this package imports SQLAlchemy or the schema.
"""

from swarmgen.store.engine import make_engine, migrate, relays_wakeups
from swarmgen.store.port import Store, Transaction
from swarmgen.store.sql import SqlStore


def open_store(url: str) -> SqlStore:
    """The store at ``url``, migrated to the current schema."""
    engine = make_engine(url)
    migrate(engine)
    return SqlStore(engine)


__all__ = [
    "SqlStore",
    "Store",
    "Transaction",
    "make_engine",
    "migrate",
    "open_store",
    "relays_wakeups",
]
