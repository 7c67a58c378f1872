"""Validators are drawn by stake, not volunteered: through the real app on SQLite and
PostgreSQL, with the shipped defaults (a minimum stake, three drawn first seats).

A seat is leased only to the worker drawn for it, mixed into its ordinary jobs; a key
that polls constantly gets none it was not drawn for; a seat let lapse, or whose
worker went quiet, is drawn again among the others; a seat nobody could sit waits and
is drawn when a worker appears; and serving at all needs an owner and locked stake.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo
from tests.integration.coordinator.test_verification import (
    ballots,
    check,
    complete,
    owned,
    pop_one,
    stake,
)

from swarmgen.core.stake import MIN_STAKE
from swarmgen.core.verification.draw import LIVE_MS
from swarmgen.core.verification.escalation import DRAWN_STAGES
from swarmgen.sdk.client import SwarmgenAPIError
from swarmgen.sdk.worker_client import WorkerClient

DEFAULTS = [{"min_stake": MIN_STAKE, "panel_stages": DRAWN_STAGES}]
pytestmark = pytest.mark.parametrize("settings_overrides", DEFAULTS)


def staked(env: Env, owner: str) -> WorkerClient:
    worker = owned(env, owner)
    stake(env, owner, worker, MIN_STAKE)
    return worker


def drawn(env: Env, job_id: str) -> dict[str, str | None]:
    """Seat id -> its drawn worker, for the queued seats on ``job_id``'s panel."""
    return {
        j.id: j.assigned_worker for j in env.reads.seats.queued_seats() if j.validates == job_id
    }


def key(worker: WorkerClient) -> str:
    return worker.keys.public_key


def tick(env: Env, seconds: float) -> None:
    env.clock.advance(seconds)
    env.http.app.state.reaper.reap()


def test_serving_needs_an_owner_and_stake_and_answers_403_stake_required(env: Env) -> None:
    free = env.worker()
    free.register("free", MODELS, 1024 * 1024, 4)  # registering stays open
    poor = owned(env, "pam")
    for worker in (free, poor):
        with pytest.raises(SwarmgenAPIError) as refused:  # parsed from {"error": {...}}
            worker.pop(0)
        assert refused.value.status == 403 and refused.value.code == "stake_required"
    stake(env, "pam", poor, MIN_STAKE - 1)
    with pytest.raises(SwarmgenAPIError) as still:
        poor.pop(0)
    assert still.value.details["min_stake"] == MIN_STAKE
    assert still.value.details["locked"] == MIN_STAKE - 1
    stake(env, "pam", poor, 1)
    job_id = str(env.submit(env.image(width=64, height=64))["id"])
    assert [a["job_id"] for a in poor.pop(0)] == [job_id]


def test_the_first_stage_is_three_seats_each_leased_only_to_its_drawn_worker(env: Env) -> None:
    claimant = staked(env, "ann")
    validators = [staked(env, owner) for owner in ("bob", "cat", "dan")]
    free = env.worker()  # a free key of the claimant's partner, polling constantly
    free.register("free", MODELS, 1024 * 1024, 4)
    job_id = complete(env, claimant)
    seats = drawn(env, job_id)
    assert len(seats) == 3 and set(seats.values()) == {key(v) for v in validators}
    for _ in range(5):
        with pytest.raises(SwarmgenAPIError):
            free.pop(0)
        assert claimant.pop(0) == []
    plain = str(env.submit(env.image(width=64, height=64))["id"])
    taken: dict[str, Any] = {}
    for validator in validators:
        got = validator.pop(0, 4)
        mine = [a for a in got if a["job_id"] in seats]
        assert len(mine) == 1 and seats[mine[0]["job_id"]] == key(validator)
        taken[key(validator)] = mine[0]
        others = [a for a in got if a["job_id"] not in seats]
        assert [a["job_id"] for a in others] in ([], [plain])
        assert all(set(a) == set(mine[0]) for a in others)  # no field tells a seat apart
    for validator in validators:
        validator.submit([run_echo(validator, taken[key(validator)])])
    assert check(env, job_id).status == "upheld"
    assert {b.validator_id for b in ballots(env, job_id)} == {key(v) for v in validators}


def test_which_seat_of_a_panel_an_owner_is_drawn_for_says_nothing_by_its_id(env: Env) -> None:
    """Seats queued together are drawn in an order their ids do not give: an owner with
    three quarters of the eligible stake, sitting one seat of each panel (the other
    owner the other, the third seat waiting), gets the panel's lowest id about a third
    of the time, not whenever it wins the first draw. Drawn in id order it got the
    lowest id about four times in five, and its workers saw their seats first in their
    id-ordered leases, and their ids run low."""
    claimant, light = staked(env, "ann"), staked(env, "bob")
    heavy = {key(staked(env, "eve")) for _ in range(3)}
    lowest = 0
    claims = 45
    for _ in range(claims):
        job_id = complete(env, claimant)
        seats = drawn(env, job_id)
        assert len(seats) == 3 and set(seats.values()) - heavy == {key(light), None}
        (mine,) = [seat for seat, worker in seats.items() if worker in heavy]
        lowest += mine == min(seats)
    assert lowest < 0.6 * claims, lowest  # a third expected; four in five before


def test_a_lapsed_seat_is_drawn_again_among_the_others_never_the_one_that_missed(
    env: Env,
) -> None:
    claimant = staked(env, "ann")
    validators = [staked(env, owner) for owner in ("bob", "cat", "dan", "eve")]
    job_id = complete(env, claimant)
    seats = drawn(env, job_id)
    (spare,) = [v for v in validators if key(v) not in seats.values()]
    lazy = next(v for v in validators if v is not spare)
    seat = pop_one(lazy)
    tick(env, (int(seat["lease_expires_ms"]) - env.clock.now_ms()) / 1000 + 0.01)
    assert drawn(env, job_id)[seat["job_id"]] == key(spare)  # the only one left
    assert lazy.pop(0) == []
    assert pop_one(spare)["job_id"] == seat["job_id"]


def test_a_seat_nobody_can_sit_waits_and_is_drawn_when_a_worker_appears(env: Env) -> None:
    claimant = staked(env, "ann")
    validators = [staked(env, owner) for owner in ("bob", "cat")]
    job_id = complete(env, claimant)
    seats = drawn(env, job_id)
    assert sorted(seats.values(), key=str) == sorted([key(v) for v in validators] + [None], key=str)
    (waiting,) = [s for s, w in seats.items() if w is None]
    late = staked(env, "dan")  # appears: its first pop draws the waiting seat for it
    assert pop_one(late)["job_id"] == waiting
    for validator in validators:
        validator.submit([run_echo(validator, pop_one(validator))])
    assert check(env, job_id).status == "pending"
    assert len(ballots(env, job_id)) == 2


def test_a_seat_whose_worker_went_quiet_is_drawn_again_by_the_reaper(env: Env) -> None:
    claimant = staked(env, "ann")
    validators = [staked(env, owner) for owner in ("bob", "cat", "dan", "eve")]
    job_id = complete(env, claimant)
    before = drawn(env, job_id)
    (spare,) = [v for v in validators if key(v) not in before.values()]
    live = [v for v in validators if key(v) in before.values()][1:]
    env.clock.advance(LIVE_MS / 1000 + 1)
    for worker in [spare, *live]:  # still there (a pop or heartbeat now: signed requests
        env.reads.workers.touch(key(worker), env.clock.now_ms())  # cannot span the skew)
    tick(env, 0)  # the other drawn worker has said nothing for longer than LIVE_MS
    after = drawn(env, job_id)
    assert set(after.values()) == {key(spare), *(key(v) for v in live)}
    moved = [s for s in before if before[s] != after[s]]
    assert len(moved) == 1 and after[moved[0]] == key(spare)
