"""Persistence: SQLAlchemy 2 on SQLite (WAL, the embedded default) or PostgreSQL."""

from swarmgen.store.engine import make_engine, migrate
from swarmgen.store.sql import SqlStore

__all__ = ["SqlStore", "make_engine", "migrate"]
