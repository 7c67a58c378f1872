"""Verdicts follow the owner through the real app (on SQLite and PostgreSQL): one key of
an owner cheats, the close convicts and slashes every key of that owner, and another
owner's keys are untouched.

Seats are drawn by stake among every staked worker, claimants of other owners included,
so every worker here is staked and every one runs the seats it is drawn for, honestly."""

from __future__ import annotations

from typing import Any

from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import run_echo
from tests.integration.coordinator.test_verification import check, complete, owned

from swarmgen.core import accounts
from swarmgen.sdk.worker_client import WorkerClient

STAKE = 1_000_000


def staked(env: Env, owner: str) -> WorkerClient:
    worker = owned(env, owner)
    env.http.app.state.credits.grant(owner, STAKE)
    worker.lock_stake(STAKE)
    return worker


def drain(validators: list[WorkerClient]) -> None:
    """Let the workers run every validation job they are drawn for, until none is left
    that any of them may sit (a stage that needs more seats than there are eligible
    workers waits for the close)."""
    while any(pending := [v.pop(0, 1) for v in validators]):
        for validator, held in zip(validators, pending, strict=True):
            if held:
                validator.submit([run_echo(validator, held[0])])


def locked(env: Env, worker: WorkerClient) -> int:
    return int(env.reads.ledger.balance(accounts.stake(worker.keys.public_key)))


def standing(env: Env, epoch: int, worker: WorkerClient) -> Any:
    found = env.reads.verdicts.get(epoch, worker.keys.public_key)
    return None if found is None else found[0]


def payments(env: Env, jobs: list[str]) -> set[str]:
    views = [env.http.get(f"/api/v1/jobs/{j}", headers=env.auth).json() for j in jobs]
    return {str(v["payment"]) for v in views}


def test_one_cheating_key_convicts_and_slashes_every_key_of_its_owner(env: Env) -> None:
    cheat, sibling = staked(env, "mal"), staked(env, "mal")
    fair, idle = staked(env, "ann"), staked(env, "ann")
    validators = [cheat, sibling, fair, idle, staked(env, "bob"), staked(env, "cat")]
    honest_of_ann = []
    for _ in range(2):
        honest_of_ann.append(complete(env, fair))
        drain(validators)
    honest_of_mal = []
    for _ in range(2):
        honest_of_mal.append(complete(env, sibling))
        drain(validators)
    cheated = []
    for _ in range(4):
        cheated.append(complete(env, cheat, cheat=True))
        drain(validators)
    epoch = env.reads.ledger.open_epoch().epoch
    env.http.app.state.epochs.close_due(force=True)

    assert {check(env, j).status for j in cheated} == {"rejected"}
    assert {check(env, j).status for j in honest_of_mal + honest_of_ann} == {"upheld"}
    # both of mal's keys stand invalid: the sibling never failed a check
    assert standing(env, epoch, cheat) is True and standing(env, epoch, sibling) is True
    assert standing(env, epoch, fair) is False and standing(env, epoch, idle) is not True
    evidence = env.reads.verdicts.get(epoch, sibling.keys.public_key)[1]
    assert evidence["failures"] == 4 and set(evidence["keys"]) == {
        cheat.keys.public_key,
        sibling.keys.public_key,
    }
    # forfeits and slashes reach the sibling too; ann's keys keep everything
    assert payments(env, cheated + honest_of_mal) == {"forfeited"}
    assert payments(env, honest_of_ann) == {"paid"}
    assert locked(env, sibling) == STAKE * 9 // 10
    assert locked(env, cheat) < locked(env, sibling)  # each rejected check slashed it too
    assert locked(env, fair) == locked(env, idle) == STAKE


def test_failures_spread_thin_over_keys_still_convict_their_owner(env: Env) -> None:
    keys = [staked(env, "mal"), staked(env, "mal")]
    fair = staked(env, "ann")
    validators = [*keys, fair, staked(env, "bob"), staked(env, "cat")]
    honest = complete(env, fair)
    drain(validators)
    cheated = []
    for key in keys:  # two failures per key: too few to convict any key on its own
        for _ in range(2):
            cheated.append(complete(env, key, cheat=True))
            drain(validators)
    epoch = env.reads.ledger.open_epoch().epoch
    env.http.app.state.epochs.close_due(force=True)

    assert {check(env, j).status for j in cheated} == {"rejected"}
    assert [standing(env, epoch, k) for k in keys] == [True, True]
    evidence = env.reads.verdicts.get(epoch, keys[0].keys.public_key)[1]
    # checks include the honest seats a key of mal may have been drawn for on ann's claim
    assert evidence["failures"] == 4 and evidence["checks"] >= 4
    assert all(v["failures"] == 2 <= v["checks"] for v in evidence["keys"].values())
    assert standing(env, epoch, fair) is False and payments(env, [honest]) == {"paid"}
    assert locked(env, fair) == STAKE


def test_a_new_key_starts_from_its_owners_reputation_not_from_scratch(env: Env) -> None:
    trusted, validator = owned(env, "ann"), owned(env, "bob")
    complete(env, trusted)
    drain([validator])
    env.http.app.state.epochs.close_due(force=True)  # one clean epoch for ann
    rate_of = [env.reads.jobs.get(complete(env, trusted)).sample_rate]
    drain([validator])
    fresh = owned(env, "ann")  # ann's second key, registered after the close
    rate_of.append(env.reads.jobs.get(complete(env, fresh)).sample_rate)
    drain([validator])
    stranger = owned(env, "dan")
    rate_of.append(env.reads.jobs.get(complete(env, stranger)).sample_rate)
    assert rate_of[0] == rate_of[1] < 1.0  # the new key is checked as its owner is
    assert rate_of[2] == 1.0  # a new owner is checked on every job
