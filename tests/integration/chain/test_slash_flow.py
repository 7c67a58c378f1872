"""A cheater caught by re-execution is slashed on chain after the window, from the outbox
its coordinator's close wrote (real app, SQLite and PostgreSQL, anvil)."""

from __future__ import annotations

import pytest
from tests.integration.coordinator.conftest import (  # noqa: F401 (fixtures)
    Env,
    env,
    settings_overrides,
)
from tests.integration.coordinator.test_owners import staked
from tests.integration.coordinator.test_verification import complete, owned, run_echo

from swarmgen.chain.node import advance
from swarmgen.chain.outbox import ChainOutbox
from swarmgen.chain.port import ChainError, key32
from swarmgen.chain.receipts import ChainReceipt
from swarmgen.chain.stake import chain_stakes
from swarmgen.core.receipts import Receipt

from .conftest import BOND, WINDOW_S, Deployed

STAKE = 10**18


def test_a_cheater_is_slashed_on_chain_after_the_window(env: Env, deployed: Deployed) -> None:  # noqa: F811
    state = env.http.app.state
    coordinator, owner = deployed.coordinator, deployed.worker_owner
    coordinator.register_coordinator(key32(state.epochs.keys.public_key), BOND)
    state.epochs.chain_outbox = True
    cheat, fair = owned(env, "mal"), owned(env, "ann")
    # seats are drawn by stake locked in the ledger: only the validators lock any
    validators = [staked(env, "bob"), staked(env, "cat")]
    for worker in (cheat, fair):
        owner.deposit(key32(worker.keys.public_key), STAKE)

    def validate() -> None:
        while any(pending := [v.pop(0, 1) for v in validators]):
            for validator, held in zip(validators, pending, strict=True):
                if held:
                    validator.submit([run_echo(validator, held[0])])

    complete(env, fair)
    validate()
    cheated = [complete(env, cheat, cheat=True) for _ in range(4)]
    validate()
    # two owners cannot fill a third seat: the panels carry over the close of their
    # epoch and settle, unanimous, at the next one
    state.epochs.close_due(force=True)
    state.epochs.close_due(force=True)

    outbox = ChainOutbox(env.store, coordinator, env.clock)
    slash_key = f"slash:1:{cheat.keys.public_key}"
    assert outbox.drain().posted == ["seal:0", "seal:1", slash_key]
    ids = [cheat.keys.public_key, fair.keys.public_key]
    assert chain_stakes(coordinator, ids) == {ids[0]: 0, ids[1]: STAKE}  # pending counts 0
    with env.store.transaction() as tx:
        row = tx.outbox.get(slash_key)
        judged = tx.jobs.get(row.payload["job_id"]) if row else None
    assert row is not None and row.tx == "slash:1" and judged is not None
    assert judged.id in cheated and judged.receipt is not None

    # the cheater's own receipt says what the coordinator claimed: no refutation
    receipt = Receipt.from_dict(judged.receipt)
    shown = ChainReceipt.of(
        receipt.job_id, receipt.worker_id, receipt.output_digest, receipt.signature
    )
    with pytest.raises(ChainError) as refused:
        owner.dispute(1, shown.encode())
    assert refused.value.details["reason"] == "DisputeRejected"

    assert outbox.drain().posted == [] and not outbox.drain().failed  # the window is open
    advance(deployed.rpc_url, WINDOW_S)
    assert outbox.drain().posted == ["execute:1"]
    assert coordinator.slash_state(1) == "executed"
    slashed = STAKE - STAKE * 100_000 // 1_000_000
    assert chain_stakes(coordinator, ids) == {ids[0]: slashed, ids[1]: STAKE}
    assert outbox.drain().posted == []  # nothing is posted twice
