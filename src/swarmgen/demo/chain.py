"""``swarmgen demo --chain``: the demo's stake, seal and slash on a local EVM node.

Before the first epoch opens (:meth:`DemoChain.join`) a local ``anvil`` node starts,
the stake contract is deployed with a challenge window of a few seconds, the
coordinator registers its ledger key with a bond, and each worker's owner stakes it
from its own development account with ``swarmgen worker stake deposit``, the command
an owner runs. The coordinator then weighs workers by the contract's stake (its
ledger locks none) and posts what its closes owe the chain through its outbox.

After the demo's forced close (:meth:`DemoChain.tell`) the epoch's seal is read back
from the contract and compared with the ledger's; the cheater's slash is found on
chain by the evidence digest the close wrote; the challenge window passes, the
coordinator's outbox executes the slash, and the cheater's stake on chain is shown
before and after; last, the exported ledger is checked against the chain with
``swarmgen ledger verify --chain``. The node stops when the demo does
(:meth:`DemoChain.close`, also on Ctrl-C).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from swarmgen.chain.evm import EvmChain, connect
from swarmgen.chain.node import DEV_KEYS, AnvilNode, anvil_binary
from swarmgen.chain.port import ChainError, key32
from swarmgen.chain.settings import ChainSettings
from swarmgen.chain.stake import UNITS_PER_MICRO
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.seal import EpochSeal
from swarmgen.demo import tables
from swarmgen.keyfile import load_or_create
from swarmgen.localnet import LocalNetwork
from swarmgen.store.records import OutboxRow

if TYPE_CHECKING:
    from swarmgen.coordinator.admin import Admin
    from swarmgen.demo.run import DemoReport

T = TypeVar("T")

COIN = 10**18
STAKE = 10 * COIN
"""What each owner deposits (wei): ten credits at the default rate, twice the minimum."""
BOND = COIN
WINDOW_S = 5
"""The demo contract's challenge window: seconds the cheater's owner has to dispute."""
UNLOCK_S = 3600
"""Unbonding delay (the contract wants it longer than the window)."""
COORDINATOR = DEV_KEYS[0]
"""Deploys the contract and posts as the coordinator; owners use the accounts after it."""
WAIT_S = 60.0
"""Longest wait for each thing the coordinator's outbox owes the chain."""
POLL_S = 0.25


@dataclass(frozen=True)
class OwnerStake:
    """One worker's stake as its owner deposited it and the chain holds it."""

    worker: str
    worker_id: str
    owner: str
    """The owner's EVM address (bound to the worker's key by the deposit)."""
    locked: int
    """Wei, read back from the contract."""


@dataclass(frozen=True)
class SealOnChain:
    epoch: int
    ledger_root: str
    chain_root: str
    differences: list[str]
    """Fields where the ledger's seal and the contract's differ (none, when honest)."""
    tx: str | None


@dataclass(frozen=True)
class SlashOnChain:
    id: int
    worker: str
    epoch: int
    amount: int
    evidence: str
    """SHA-256 of the verdict's evidence, as the close wrote it and the contract keeps it."""
    state: str
    before: int
    """The worker's locked stake (wei) before the slash executed."""
    after: int
    executed_tx: str | None


@dataclass
class ChainReport:
    """What the demo showed of the chain, as written to ``summary.json``."""

    rpc_url: str
    contract: str
    coordinator: str
    window_s: int
    stakes: list[OwnerStake] = field(default_factory=list)
    seal: SealOnChain | None = None
    slash: SlashOnChain | None = None
    verify: dict[str, Any] | None = None
    """The JSON report of ``swarmgen ledger verify EXPORT --chain --contract``."""

    @property
    def ok(self) -> bool:
        return bool(
            self.seal
            and not self.seal.differences
            and self.slash
            and self.slash.state == "executed"
            and self.verify
            and self.verify.get("ok")
            and self.verify.get("chain", {}).get("ok")
        )


@dataclass
class ChainNetwork(LocalNetwork):
    """The demo's local network when stake is on chain: each owner deposited before the
    first epoch opened (:meth:`DemoChain.join`), so starting a worker locks nothing in
    the ledger; the worker registers under its owner as it starts (``--owner-key``)."""

    def stake_worker(self, name: str, keys_path: Path, models: list[str], owner_key: str) -> None:
        return None


@dataclass
class DemoChain:
    """A local node with the stake contract, for one demo run; use it as a context
    manager so the node stops with the demo."""

    window_s: int = WINDOW_S
    binary: Path | None = None
    node: AnvilNode | None = None
    report: ChainReport | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.window_s < UNLOCK_S:
            raise ValueError(f"the challenge window must be 1 to {UNLOCK_S - 1} seconds")
        self.binary = self.binary or anvil_binary()
        if self.binary is None:
            raise ChainError("anvil is missing: run `make install` (npm ci in chain/)")

    def __enter__(self) -> DemoChain:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self.node is not None:
            self.node.stop()
            self.node = None

    @property
    def settings(self) -> ChainSettings:
        """What the coordinator (and the demo's own close) is configured with."""
        report = self._report()
        return ChainSettings(
            rpc_url=report.rpc_url,
            contract=report.contract,
            private_key=COORDINATOR,
            outbox_interval_s=0.5,
            stake_cache_s=1.0,
            stake_pin_lag_s=0,
        )

    def env(self) -> dict[str, str]:
        """:attr:`settings` as the coordinator process reads them."""
        values = self.settings.model_dump(exclude_none=True)
        return {f"SWARMGEN_CHAIN_{name.upper()}": str(value) for name, value in values.items()}

    def network(self, data: Path, lease_min_s: int) -> ChainNetwork:
        return ChainNetwork(data, lease_min_s=lease_min_s, stake=STAKE // UNITS_PER_MICRO)

    def join(
        self, coordinator: CoordinatorSettings, names: Sequence[str], console: Console
    ) -> dict[str, str]:
        """Start the node, deploy, register the coordinator and stake each worker;
        returns the coordinator's chain environment. Call it before anything opens
        the first epoch: an epoch's draw reads the stake of the block it opened at."""
        if len(names) > len(DEV_KEYS) - 1:
            raise ValueError(f"at most {len(DEV_KEYS) - 1} owners have a development account")
        assert self.binary is not None
        tables.step(console, 0, "the chain: a local EVM node holds the stake, seals and slashes")
        self.node = AnvilNode(self.binary).start()
        w3 = connect(self.node.rpc_url)
        deployed = EvmChain.deploy(
            w3,
            COORDINATOR,
            min_bond=BOND,
            unlock_delay_s=UNLOCK_S,
            challenge_window_s=self.window_s,
        )
        address = deployed.contract.address
        ledger_key = load_or_create(coordinator.key_path).public_key
        deployed.register_coordinator(key32(ledger_key), BOND)
        self.report = ChainReport(self.node.rpc_url, address, deployed.address, self.window_s)
        console.print(
            f"anvil on {self.node.rpc_url}; contract {address} (challenge window "
            f"{self.window_s} s); coordinator {deployed.address} registered its ledger key"
        )
        self.report.stakes = self._stake(coordinator.data, names, console)
        console.print(_stakes(self.report.stakes))
        # the first epoch opens after the last deposit's block, so its draw reads them
        latest = int(w3.eth.get_block("latest")["timestamp"])
        while time.time() < latest + 1:
            time.sleep(0.05)
        return self.env()

    def _stake(self, data: Path, names: Sequence[str], console: Console) -> list[OwnerStake]:
        """Each owner deposits for its worker with the CLI, all at once (each from its
        own account, so their nonces do not collide)."""
        report = self._report()
        where = ["--chain", report.rpc_url, "--contract", report.contract, "--data", str(data)]
        console.print(
            "each owner runs: SWARMGEN_CHAIN_PRIVATE_KEY=<its key> swarmgen worker stake "
            f"deposit {STAKE} --worker NAME {' '.join(where)}"
        )
        running = {}
        for index, name in enumerate(names):
            load_or_create(data / f"worker-{name}.key")  # the key the worker starts with
            args = ["worker", "stake", "deposit", str(STAKE), "--worker", name, *where]
            running[name] = _cli(args, {"SWARMGEN_CHAIN_PRIVATE_KEY": DEV_KEYS[index + 1]})
        try:
            for name, proc in running.items():
                output, _ = proc.communicate(timeout=WAIT_S)
                if proc.returncode != 0:
                    raise ChainError(f"the deposit for {name} failed: {output.strip()}")
        finally:
            for proc in running.values():  # none outlives a failed one
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        reader = self._reader()
        stakes = []
        for name in names:
            worker_id = load_or_create(data / f"worker-{name}.key").public_key
            info = reader.stake_of(key32(worker_id))
            stakes.append(OwnerStake(name, worker_id, info.owner or "", info.locked))
        return stakes

    def tell(
        self,
        report: DemoReport,
        seal: EpochSeal,
        admin: Admin,
        out: Path,
        console: Console,
    ) -> ChainReport:
        """The closed epoch on chain: seal, slash, window, stake, verification."""
        found = self._report()
        tables.step(console, 8, "the chain: the seal, the cheater's slash and its window")
        found.seal = self._seal(seal, admin, console)
        cheater = next(w for w in report.workers if w.cheats)
        found.slash = self._slash(cheater.name, cheater.id, seal.epoch, admin, console)
        found.verify = self._verify(out / "ledger.jsonl", console)
        return found

    def _seal(self, seal: EpochSeal, admin: Admin, console: Console) -> SealOnChain:
        report, reader = self._report(), self._reader()
        with console.status("the coordinator's outbox posts the seal"):
            there = _until(
                lambda: reader.seal_of(report.coordinator, seal.epoch), WAIT_S, "the seal"
            )
        row = _outbox(admin, f"seal:{seal.epoch}")
        tx = row.tx if row else None
        found = SealOnChain(seal.epoch, seal.root, there.root.hex(), there.differences(seal), tx)
        same = (
            Text("equals the ledger's", style="bold green")
            if not found.differences
            else Text(f"DIFFERS in {', '.join(found.differences)}", style="bold red")
        )
        console.print(
            Text.assemble(
                f"epoch {seal.epoch}'s seal read back from the contract: root "
                f"{found.chain_root[:16]}… ",
                same,
                f" (transaction {found.tx})",
            )
        )
        return found

    def _slash(
        self, name: str, worker_id: str, epoch: int, admin: Admin, console: Console
    ) -> SlashOnChain | None:
        report, reader = self._report(), self._reader()
        owed = _outbox(admin, f"slash:{epoch}:{worker_id}")
        if owed is None:
            console.print(f"[yellow]the close owes no slash of {name} to the chain")
            return None
        evidence = str(owed.payload["evidence"])
        with console.status("the coordinator's outbox proposes the slash"):
            slash_id = _until(
                lambda: reader.slash_id_of(report.coordinator, bytes.fromhex(evidence)),
                WAIT_S,
                "the slash",
            )
        (record,) = [s for s in reader.slashes_against(key32(worker_id)) if s.id == slash_id]
        before = next(s.locked for s in report.stakes if s.worker_id == worker_id)
        console.print(
            f"slash {slash_id} proposed against {name}: {_coins(record.amount)} of its "
            f"{_coins(before)} coins, naming the verdict's evidence by its digest {evidence[:16]}…"
        )
        with console.status(
            f"challenge window: {self.window_s} s in which {name}'s owner may dispute "
            "with its signed receipt"
        ):
            _until(lambda: reader.slash_state(slash_id) == "executed" or None, WAIT_S, "execution")
        execute = _outbox(admin, f"execute:{slash_id}")
        after = reader.stake_of(key32(worker_id)).locked
        found = SlashOnChain(
            id=slash_id,
            worker=name,
            epoch=record.epoch,
            amount=record.amount,
            evidence=evidence,
            state=reader.slash_state(slash_id),
            before=before,
            after=after,
            executed_tx=execute.tx if execute else None,
        )
        console.print(_slashed(found))
        return found

    def _verify(self, export: Path, console: Console) -> dict[str, Any]:
        report = self._report()
        args = ["ledger", "verify", str(export), "--chain", report.rpc_url]
        args += ["--contract", report.contract]
        proc = _cli(args)
        output, _ = proc.communicate(timeout=WAIT_S)
        try:
            verified: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
        except (ValueError, IndexError):
            verified = {"ok": False, "error": output.strip()}
        anchored = verified.get("chain", {})
        ok = verified.get("ok") and anchored.get("ok")
        status = (
            Text(
                f"ok: {anchored.get('checked')} sealed epoch(s) equal on chain", style="bold green"
            )
            if ok
            else Text(f"FAILED: {anchored.get('problems') or verified}", style="bold red")
        )
        console.print(Text.assemble(f"$ swarmgen {' '.join(args)}\n", status))
        return verified

    def _report(self) -> ChainReport:
        if self.report is None:
            raise ChainError("the demo's chain is not up yet")
        return self.report

    def _reader(self) -> EvmChain:
        report = self._report()
        return EvmChain(connect(report.rpc_url), report.contract)


def _cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``swarmgen ARGS`` in a process of its own, as a person would run it."""
    return subprocess.Popen(
        [sys.executable, "-m", "swarmgen.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _until(read: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll ``read`` until it answers (not ``None``); a :class:`ChainError` past the time."""
    deadline = time.monotonic() + timeout_s
    while (found := read()) is None:
        if time.monotonic() > deadline:
            raise ChainError(f"{what} did not reach the chain within {timeout_s:.0f} s")
        time.sleep(POLL_S)
    return found


def _outbox(admin: Admin, key: str) -> OutboxRow | None:
    with admin.store.transaction() as tx:
        return tx.outbox.get(key)


def _coins(wei: int) -> str:
    return f"{wei / COIN:,.6f}".rstrip("0").rstrip(".")


def _stakes(stakes: Sequence[OwnerStake]) -> Table:
    table = Table("worker", "id", "owner (EVM account)", "stake on chain", title_justify="left")
    for s in stakes:
        table.add_row(s.worker, s.worker_id[:12], s.owner, _coins(s.locked))
    return table


def _slashed(found: SlashOnChain) -> Group:
    table = Table("worker", "stake before", "slashed", "stake after", title_justify="left")
    table.add_row(
        found.worker, _coins(found.before), _coins(found.amount), _coins(found.after), style="red"
    )
    return Group(
        Text(
            f"the window passed undisputed: the outbox executed slash {found.id} "
            f"(transaction {found.executed_tx})"
        ),
        table,
        Text(
            "the stake is on chain, so the ledger slashed none of it (step 6): the contract "
            "did; from now on every coordinator sharing it checks each job of this worker"
        ),
    )
