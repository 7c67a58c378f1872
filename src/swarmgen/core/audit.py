"""The exported ledger: its JSON-lines format, its verifier, and inclusion proofs.

An export is UTF-8 text, one canonical JSON object per line, each ending in ``\\n``:

* first a header ``{"type": "header", "format": "swarmgen-ledger/1", "coordinator": KEY}``;
* then every entry ``{"type": "entry", ...}`` in sequence order;
* after the last entry of each closed epoch, its seal ``{"type": "seal", ...}``.

:func:`verify_export` recomputes everything from the lines alone: each line is canonical,
sequence numbers are contiguous, every hash and chain link, every entry obeys its
kind's rule and leaves no balance in circulation negative, every embedded receipt's
signature, every epoch's Merkle root, head and totals against its seal and the seal's
signature, and conservation. Entries after the last seal are checked but not attested.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from swarmgen.core.canonical import NotCanonical, canonical_json
from swarmgen.core.ledger import (
    GENESIS_HASH,
    Entry,
    LedgerError,
    apply,
    make_entry,
    totals,
)
from swarmgen.core.merkle import merkle_root
from swarmgen.core.seal import EpochSeal
from swarmgen.errors import SwarmgenError

FORMAT = "swarmgen-ledger/1"


class AuditError(SwarmgenError):
    """An export is malformed or does not verify."""

    code = "audit_failed"
    status = 422


def _line(value: dict[str, Any]) -> str:
    return canonical_json(value).decode("utf-8") + "\n"


def export_lines(
    entries: Iterable[Entry], seals: Iterable[EpochSeal], coordinator: str
) -> Iterator[str]:
    """The lines of an export, each ending in a newline; seals follow their epoch."""
    yield _line({"type": "header", "format": FORMAT, "coordinator": coordinator})
    pending = sorted(seals, key=lambda seal: seal.epoch)
    for entry in entries:
        while pending and pending[0].epoch < entry.epoch:
            yield _line({"type": "seal", **pending.pop(0).to_dict()})
        yield _line({"type": "entry", **entry.to_dict()})
    for seal in pending:
        yield _line({"type": "seal", **seal.to_dict()})


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify_export` found: ``ok`` or the first problem and its line."""

    ok: bool
    entries: int
    seals: int
    unsealed: int
    """Entries after the last seal (checked, but not yet signed by the coordinator)."""
    minted: int
    burned: int
    supply: int
    head_hash: str
    error: str | None = None
    line: int | None = None


def _no_constants(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate key")
    return out


def parse_line(raw: str | bytes) -> dict[str, Any]:
    """Decode one export line, refusing anything but its one canonical spelling."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    data = data.removesuffix(b"\n")
    try:
        value = json.loads(data, parse_constant=_no_constants, object_pairs_hook=_unique)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuditError(f"not JSON: {exc}") from None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise AuditError("each line is an object with a type")
    try:
        if canonical_json(value) != data:
            raise AuditError("not in canonical form")
    except NotCanonical as exc:
        raise AuditError(f"not canonical: {exc}") from None
    return value


class _Verifier:
    """Replays an export line by line."""

    def __init__(self, coordinator: str | None) -> None:
        self.coordinator = coordinator
        self.header = False
        self.balances: dict[str, int] = {}
        self.prev = GENESIS_HASH
        self.seq = 0
        self.epoch = 0
        self.leaves: list[str] = []
        self.last_sealed = -1
        self.seals = 0

    def feed(self, value: dict[str, Any]) -> None:
        kind = value.pop("type")
        if not self.header:
            self._header(kind, value)
        elif kind == "entry":
            self._entry(value)
        elif kind == "seal":
            self._seal(value)
        else:
            raise AuditError(f"unknown line type {kind!r}")

    def _header(self, kind: str, value: dict[str, Any]) -> None:
        if kind != "header" or set(value) != {"format", "coordinator"}:
            raise AuditError("the first line must be the header")
        if value["format"] != FORMAT:
            raise AuditError(f"unknown format {value['format']!r}")
        if self.coordinator is not None and value["coordinator"] != self.coordinator:
            raise AuditError("the export names another coordinator key")
        if not isinstance(value["coordinator"], str):
            raise AuditError("the coordinator key must be a string")
        self.coordinator = value["coordinator"]
        self.header = True

    def _entry(self, value: dict[str, Any]) -> None:
        entry = Entry.from_dict(value)
        if entry.epoch < self.epoch:
            raise AuditError(f"entry {entry.seq} goes back to epoch {entry.epoch}")
        if entry.epoch > self.epoch and self.leaves:
            raise AuditError(f"epoch {self.epoch} has entries but no seal")
        if entry.seq != self.seq or entry.prev_hash != self.prev:
            raise AuditError(f"entry {entry.seq} breaks the chain")
        if make_entry(entry.seq, entry.epoch, entry.posting, self.prev).hash != entry.hash:
            raise AuditError(f"entry {entry.seq}: hash does not match its content")
        receipt = entry.posting.receipt
        if receipt is not None and not receipt.verify():
            raise AuditError(f"entry {entry.seq}: receipt signature does not verify")
        apply(self.balances, entry.posting)
        self.epoch, self.seq, self.prev = entry.epoch, self.seq + 1, entry.hash
        self.leaves.append(entry.hash)

    def _seal(self, value: dict[str, Any]) -> None:
        try:
            seal = EpochSeal.from_dict(value)
        except ValueError as exc:
            raise AuditError(str(exc)) from None
        if seal.epoch <= self.last_sealed or (self.leaves and seal.epoch != self.epoch):
            raise AuditError(f"seal of epoch {seal.epoch} is out of order")
        if seal.epoch < self.epoch:
            raise AuditError(f"seal of epoch {seal.epoch} comes after later entries")
        expected = (self.seq - len(self.leaves), len(self.leaves), self.prev)
        if (seal.first_seq, seal.count, seal.head_hash) != expected:
            raise AuditError(f"seal of epoch {seal.epoch} covers other entries")
        if seal.root != merkle_root(self.leaves):
            raise AuditError(f"seal of epoch {seal.epoch}: Merkle root does not match")
        if seal.totals != totals(self.balances):
            raise AuditError(f"seal of epoch {seal.epoch}: totals do not match the entries")
        if self.coordinator is None or not seal.verify(self.coordinator):
            raise AuditError(f"seal of epoch {seal.epoch}: signature does not verify")
        self.last_sealed, self.epoch, self.leaves = seal.epoch, seal.epoch, []
        self.seals += 1

    def report(self, error: str | None = None, line: int | None = None) -> VerifyReport:
        sums = totals(self.balances)
        if error is None and not sums.conserved:
            error = "conservation: supply differs from minted minus burned"
        return VerifyReport(
            ok=error is None,
            entries=self.seq,
            seals=self.seals,
            unsealed=len(self.leaves),
            minted=sums.minted,
            burned=sums.burned,
            supply=sums.supply,
            head_hash=self.prev,
            error=error,
            line=line,
        )


def verify_export(
    lines: Iterable[str | bytes], coordinator_public_key: str | None = None
) -> VerifyReport:
    """Verify an export given line by line; never raises on bad input.

    ``coordinator_public_key``, when given, must be the key the export names: without it
    the export is checked against the key in its own header.
    """
    verifier = _Verifier(coordinator_public_key)
    for number, raw in enumerate(lines, start=1):
        try:
            verifier.feed(parse_line(raw))
        except (AuditError, LedgerError) as exc:
            return verifier.report(exc.message, number)
    if not verifier.header:
        return verifier.report("empty export")
    return verifier.report()


def verify_export_bytes(data: bytes, coordinator_public_key: str | None = None) -> VerifyReport:
    """Verify a whole export file's bytes, including its line structure."""
    if not data.endswith(b"\n"):
        return _Verifier(None).report("the export must end with a newline", None)
    return verify_export(data[:-1].split(b"\n"), coordinator_public_key)


@dataclass(frozen=True)
class Export:
    """The parsed content of an export (unverified: see :func:`verify_export`)."""

    coordinator: str
    entries: tuple[Entry, ...]
    seals: tuple[EpochSeal, ...]


def load_export(lines: Iterable[str | bytes]) -> Export:
    """Parse an export's lines into entries and seals; :class:`AuditError` when malformed."""
    coordinator: str | None = None
    entries: list[Entry] = []
    seals: list[EpochSeal] = []
    try:
        for raw in lines:
            value = parse_line(raw)
            kind = value.pop("type")
            if kind == "header" and coordinator is None:
                coordinator = str(value.get("coordinator"))
            elif kind == "entry" and coordinator is not None:
                entries.append(Entry.from_dict(value))
            elif kind == "seal" and coordinator is not None:
                seals.append(EpochSeal.from_dict(value))
            else:
                raise AuditError(f"unexpected {kind!r} line")
    except (LedgerError, ValueError) as exc:
        raise AuditError(str(exc)) from None
    if coordinator is None:
        raise AuditError("empty export")
    return Export(coordinator, tuple(entries), tuple(seals))
