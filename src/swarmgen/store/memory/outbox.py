"""The chain outbox in memory (see :mod:`swarmgen.store.outbox`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from swarmgen.store.memory.tables import Tables
from swarmgen.store.records import OutboxRow


class MemoryOutbox:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def add(self, key: str, kind: str, payload: Mapping[str, Any], now: int) -> None:
        self.t.outbox.setdefault(key, OutboxRow(key, kind, dict(payload), now))

    def waiting(self, limit: int = 100) -> list[OutboxRow]:
        rows = sorted(
            (r for r in self.t.outbox.values() if r.posted_ms is None),
            key=lambda r: (r.created_ms, r.key),
        )
        return rows[:limit]

    def get(self, key: str) -> OutboxRow | None:
        return self.t.outbox.get(key)

    def posted(self, key: str, tx: str, now: int) -> None:
        row = self.t.outbox[key]
        self.t.outbox[key] = dataclasses.replace(
            row, posted_ms=now, tx=tx, attempts=row.attempts + 1, last_error=None
        )

    def failed(self, key: str, error: str) -> None:
        row = self.t.outbox[key]
        self.t.outbox[key] = dataclasses.replace(
            row, attempts=row.attempts + 1, last_error=error[:2000]
        )
