"""What the dashboard reads: the network view, the ledger explorer, jobs and provenance."""

from __future__ import annotations

from dataclasses import dataclass

from swarmgen.coordinator.credits import CreditService
from swarmgen.coordinator.explorer import Explorer
from swarmgen.coordinator.jobs import JobService
from swarmgen.coordinator.network import NetworkService
from swarmgen.coordinator.provenance import Provenance
from swarmgen.store.port import Store


@dataclass(frozen=True)
class DashboardServices:
    network: NetworkService
    explorer: Explorer
    jobs: JobService
    credits: CreditService
    provenance: Provenance
    store: Store
    """Read only to authenticate a requester's key."""
