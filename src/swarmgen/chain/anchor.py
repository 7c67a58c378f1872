"""An export's seals against the chain: every sealed epoch must be there, unchanged.

An export verifies on its own (hash chain, receipts, Merkle roots, signed seals), but a
coordinator holding its key could re-sign a rewritten history. The chain holds what
was posted at each close and refuses to replace it, so an epoch whose root, head hash
or entry count differs from the chain's (or that never reached it) is a failure.
The coordinator's chain address is the one that registered the export's ledger key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from swarmgen.chain.port import Chain, key32
from swarmgen.core.audit import AuditError, load_export


@dataclass
class AnchorReport:
    ok: bool
    coordinator: str
    """The coordinator's chain address (empty when its key is not registered)."""
    checked: int = 0
    """Sealed epochs in the export found on chain and equal."""
    problems: list[str] = field(default_factory=list)


def check_against_chain(lines: Iterable[str | bytes], chain: Chain) -> AnchorReport:
    """Compare every seal in the export (its lines) with the chain's."""
    try:
        export = load_export(lines)
        key = key32(export.coordinator)
    except (AuditError, ValueError) as exc:
        return AnchorReport(False, "", problems=[f"malformed export: {exc}"])
    address = chain.coordinator_of(key)
    if address is None:
        return AnchorReport(False, "", problems=["the export's coordinator key is not on chain"])
    report = AnchorReport(True, address)
    for seal in export.seals:
        there = chain.seal_of(address, seal.epoch)
        if there is None:
            report.problems.append(f"epoch {seal.epoch}: not sealed on chain")
        elif differences := there.differences(seal):
            report.problems.append(f"epoch {seal.epoch}: {', '.join(differences)} differ")
        else:
            report.checked += 1
    report.ok = not report.problems
    return report
