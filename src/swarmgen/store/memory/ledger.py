"""The ledger in memory: entries, the balance projection and epochs, made by the core."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Sequence

from swarmgen.core.ledger import (
    GENESIS_HASH,
    Entry,
    EntryKind,
    Posting,
    Totals,
    apply,
    make_entry,
    totals,
)
from swarmgen.core.seal import EpochSeal
from swarmgen.store.memory.tables import EpochRow, Tables
from swarmgen.store.records import OpenEpoch


class MemoryLedger:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def balance(self, account: str) -> int:
        return self.t.balances.get(account, 0)

    def balances(self) -> dict[str, int]:
        return {a: v for a, v in self.t.balances.items() if v}

    def entries_page(self, after_seq: int = -1, limit: int = 1000) -> list[Entry]:
        return self.t.entries[after_seq + 1 : after_seq + 1 + limit]

    def account_entries(
        self, account: str, limit: int, before_seq: int | None = None
    ) -> list[Entry]:
        found = [
            e
            for e in reversed(self.t.entries)
            if account in (e.posting.debit, e.posting.credit)
            and (before_seq is None or e.seq < before_seq)
        ]
        return found[:limit]

    def job_entries(self, job_id: str) -> list[Entry]:
        return [e for e in self.t.entries if e.posting.job_id == job_id]

    def releases_of(self, job_ids: Sequence[str]) -> list[Entry]:
        wanted = set(job_ids)
        return [
            e for e in self.t.entries if e.kind is EntryKind.RELEASE and e.posting.job_id in wanted
        ]

    def epoch_entries(self, epoch: int) -> list[Entry]:
        return [e for e in self.t.entries if e.epoch == epoch]

    def kind_entries(self, kind: EntryKind, credit: str | None = None) -> list[Entry]:
        return [
            e
            for e in self.t.entries
            if e.kind is kind and (credit is None or e.posting.credit == credit)
        ]

    def seals(self) -> list[EpochSeal]:
        return [
            EpochSeal.from_dict(row.seal)
            for _, row in sorted(self.t.epochs.items())
            if row.seal is not None
        ]

    def open_epoch(self) -> OpenEpoch | None:
        return next(
            (
                OpenEpoch(n, row.opened_ms)
                for n, row in self.t.epochs.items()
                if row.closed_ms is None
            ),
            None,
        )

    def count(self) -> int:
        return len(self.t.entries)

    def journaled(self) -> int:
        """Nothing waits: postings go to the chain at once."""
        return 0


class MemoryBook:
    """The ledger's write side; the store's lock already serialises transactions."""

    def __init__(self, tables: Tables, now_ms: int) -> None:
        self.t = tables
        self.now_ms = now_ms
        epoch = MemoryLedger(tables).open_epoch()
        if epoch is None:
            tables.epochs[0] = EpochRow(now_ms)
            epoch = OpenEpoch(0, now_ms)
        self.epoch = epoch

    @property
    def next_seq(self) -> int:
        return len(self.t.entries)

    @property
    def head(self) -> str:
        return self.t.entries[-1].hash if self.t.entries else GENESIS_HASH

    def balances(self, *accounts: str) -> dict[str, int]:
        return {a: self.t.balances.get(a, 0) for a in accounts}

    def balance(self, account: str) -> int:
        return self.t.balances.get(account, 0)

    def all_balances(self) -> dict[str, int]:
        return {a: v for a, v in self.t.balances.items() if v}

    def post(self, postings: Iterable[Posting]) -> list[Entry]:
        scratch: ChainMap[str, int] = ChainMap({}, self.t.balances)
        made: list[Entry] = []
        seq, head = self.next_seq, self.head
        for posting in postings:
            entry = make_entry(seq, self.epoch.epoch, posting, head)
            apply(scratch, posting)
            made.append(entry)
            seq, head = seq + 1, entry.hash
        self.t.entries.extend(made)
        self.t.balances.update(scratch.maps[0])
        return made

    def totals(self) -> Totals:
        return totals(self.all_balances())

    def seal(self, seal: EpochSeal) -> None:
        row = self.t.epochs[seal.epoch]
        self.t.epochs[seal.epoch] = EpochRow(row.opened_ms, self.now_ms, seal.to_dict())
        self.t.epochs[seal.epoch + 1] = EpochRow(self.now_ms)
        self.epoch = OpenEpoch(seal.epoch + 1, self.now_ms)
