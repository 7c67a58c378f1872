"""A network adversary against verification, through the real app on a real database.

Each test plays one strategy a cheater can use around the comparison rather than
against it: telling checks from work, starving or capturing panels, submitting late,
lying about timings, crashing honest workers, spreading work over keys. Every worker
is registered under an owner and locks stake through the stake API, as a coordinator
that asks for stake requires. Seats go only to the worker drawn for them, among the
seen, staked workers of owners not yet on the panel; to stay independent of the epoch's
random seed, each test registers its workers so that who is eligible, and so who is
drawn, is forced where it matters. The figures at scale are ``bench/adversary.py``'s.
"""

from __future__ import annotations

import json
import random
from types import SimpleNamespace
from typing import Any

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo
from tests.integration.coordinator.test_verification import (
    ballots,
    check,
    job_of,
    run_noise,
    verdict_entries,
)

from swarmgen.backends.echo import EchoBackend
from swarmgen.core import accounts
from swarmgen.core.credits import PPM
from swarmgen.core.jobs import JobState
from swarmgen.core.leases import LEASE_MAX_FACTOR
from swarmgen.core.ledger import EntryKind
from swarmgen.core.receipts import Receipt
from swarmgen.core.verification.draw import take_deadline_ms
from swarmgen.sdk import worker_client
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.worker.daemon import result_payload

STAKE = 5_000_000
"""What each worker locks: the smallest stake a coordinator asks for by default."""


def staked(env: Env, owner: str, stake: int = STAKE) -> WorkerClient:
    """A worker registered under ``owner`` (created and funded on first use), staked."""
    if env.reads.users.by_name(owner) is None:
        env.new_key(owner)
        env.http.app.state.credits.grant(owner, 1000 * STAKE)
    worker = env.worker()
    worker.owner_key = env.new_key(owner)
    worker.register(f"{owner}-w", MODELS, 1024 * 1024, 8)
    worker.lock_stake(stake)
    return worker


def tick(env: Env, seconds: float = 1.0) -> None:
    """Let ``seconds`` pass and run the reaper, as the coordinator does every second."""
    env.clock.advance(seconds)
    env.http.app.state.reaper.reap()


def claim(env: Env, worker: WorkerClient, cheat: bool = False, key: str | None = None) -> str:
    """A new image job (submitted with ``key``, else the env's), leased and completed by
    ``worker`` (honestly or not)."""
    job_id = str(env.submit(env.image(width=64, height=64), key)["id"])
    (leased,) = worker.pop(0, 1)
    assert leased["job_id"] == job_id
    worker.submit([run_noise(worker, leased) if cheat else run_echo(worker, leased)])
    return job_id


def serve(env: Env, workers: list[WorkerClient], rounds: int = 50) -> None:
    """Honest workers pop and run whatever they are given until nothing is offered."""
    for _ in range(rounds):
        busy = False
        for worker in workers:
            for leased in worker.pop(0, 4):
                worker.submit([run_echo(worker, leased)])
                busy = True
        if not busy:
            return


def close(env: Env) -> None:
    env.http.app.state.epochs.close_due(force=True)


def owner_credits(env: Env, owner: str, workers: list[WorkerClient]) -> int:
    """The owner's balance plus the stake behind its workers."""
    user = env.reads.users.by_name(owner)
    assert user is not None
    total: int = env.reads.ledger.balance(accounts.user(user.id))
    for worker in workers:
        seen = worker.stake()
        total += int(seen["locked"]) + int(seen["unbonding"])
    return total


# recognise ----------------------------------------------------------------------


def observe(env: Env, worker: WorkerClient, owner_key: str, leased: dict[str, Any]) -> Any:
    """Everything the worker can see of one leased job, its own id written out."""
    job_id = leased["job_id"]
    owner = {"Authorization": f"Bearer {owner_key}"}
    status = env.http.get(f"/api/v1/jobs/{job_id}", headers=owner)
    export = env.http.get("/api/v1/ledger/export").text
    proof = env.http.get(f"/api/v1/ledger/proofs/{job_id}")
    seen = {
        "fields": sorted(leased),
        "model": leased["model"],
        "spec": {k: v for k, v in leased["spec"].items() if k not in {"seed", "prompt"}},
        "lease_ms": int(leased["lease_expires_ms"]) - env.clock.now_ms(),
        "has_sampling_id": leased["sampling_id"] is not None,
        "heartbeat": worker.heartbeat([job_id]),
        "status": (status.status_code, status.text.replace(job_id, "ID")),
        "in_export": job_id in export,
        "proof": (proof.status_code, proof.text.replace(job_id, "ID")),
    }
    return json.loads(json.dumps(seen))


def test_recognise_a_seat_and_an_ordinary_job_of_the_same_spec_look_the_same(env: Env) -> None:
    claimant, spy = staked(env, "ann"), staked(env, "eve")
    body = env.image(width=64, height=64, steps=4)
    checked = str(env.submit(body)["id"])
    (leased,) = claimant.pop(0, 1)
    claimant.submit([run_echo(claimant, leased)])
    ordinary = str(env.submit(body)["id"])
    popped = spy.pop(0, 8)
    assert len(popped) == 2
    assert [a["job_id"] for a in popped] == sorted(a["job_id"] for a in popped)  # not seat-first
    by_kind = {env.reads.jobs.get(a["job_id"]).validates is not None: a for a in popped}
    assert env.reads.jobs.get(by_kind[True]["job_id"]).validates == checked
    assert by_kind[False]["job_id"] == ordinary
    assert spy.owner_key is not None
    seat, plain = (observe(env, spy, spy.owner_key, by_kind[k]) for k in (True, False))
    assert seat == plain
    assert seat["status"][0] == 404 and not seat["in_export"]  # the owner learns nothing


PACED = pytest.mark.parametrize("settings_overrides", [{"seat_hold_s": 5}])
"""Seats paced as a coordinator paces them by default: in places of ordinary jobs due
that the coordinator's coins give them, or after the worker has been idle for its hold
(drawn, with a mean of five seconds)."""


class Coins(random.Random):
    """The coordinator's coins, fixed for a test: every place of a lease goes to a seat
    (``seat``) or none does, and every idle spell's hold is the mean hold."""

    def __init__(self, seat: bool) -> None:
        super().__init__(0)
        self.seat = seat

    def random(self) -> float:
        return 0.0 if self.seat else 0.999

    def expovariate(self, lambd: float = 1.0) -> float:
        return 1 / lambd


def seat_of(env: Env, job_id: str) -> str | None:
    """The claim a leased job validates (``None``: an ordinary job)."""
    return env.reads.jobs.get(job_id).validates


@PACED
def test_recognise_a_pop_carries_a_seat_only_when_it_would_carry_ordinary_work(
    env: Env,
) -> None:
    """The pop that brings a seat returns when a pop would have anyway: at once when an
    ordinary job is due and the coordinator's coin gives the seat its place (the
    ordinary job then stays queued for another worker), else once the worker has been
    idle for its hold, counted from its first idle pop, never at the instant the seat
    was drawn."""
    env.http.app.state.workers._coins = Coins(seat=True)
    claimant, spy = staked(env, "ann"), staked(env, "eve")

    def ordinary_job() -> str:
        return str(env.submit(env.image(width=64, height=64))["id"])

    def pop_one(wanted: str | None) -> str:
        (got,) = spy.pop(0, 1)
        spy.submit([run_echo(spy, got)])
        assert seat_of(env, got["job_id"]) == wanted
        return str(got["job_id"])

    first = claim(env, claimant)  # checked: its seat is drawn for eve, the only other owner
    assert spy.pop(0, 4) == []  # nothing due: the seat waits, the answer is an empty queue's
    tick(env, 4.9)
    assert spy.pop(0, 4) == []
    tick(env, 0.1)  # idle for the hold: the seat goes out on its own
    pop_one(first)
    pop_one(claim(env, claimant))  # still idle: the next seat goes out at once
    plain = ordinary_job()
    assert pop_one(None) == plain  # ordinary work ends the idle spell
    assert claimant.pop(0, 4) == []  # the seat on eve's job, drawn for ann, waits too
    tick(env, 5)
    serve(env, [claimant])
    third = claim(env, claimant)
    assert spy.pop(0, 4) == []  # not idle for the hold: the seat waits for ordinary work
    due = {ordinary_job(), ordinary_job()}
    pop_one(third)  # in place of an ordinary job due...
    assert {j.state.value for j in env.reads.jobs.get_many(list(due))} == {"queued"}
    assert {pop_one(None), pop_one(None)} == due  # ...which stayed queued
    env.http.app.state.workers._coins = Coins(seat=False)
    fourth = claim(env, claimant)
    plain = ordinary_job()
    assert pop_one(None) == plain  # a place its coin keeps from seats: the seat waits
    env.http.app.state.workers._coins = Coins(seat=True)
    ordinary_job()
    pop_one(fourth)


def public_view(env: Env) -> list[str]:
    """Every public figure of the network: native stats and models, the Horde status,
    the dashboard's overview and throughput chart."""
    pages = ("/api/v1/stats", "/api/v1/models", "/api/v2/status/models", "/")
    pages += ("/charts/throughput.svg",)
    return [env.http.get(page).text for page in pages]


def test_recognise_the_public_view_does_not_move_when_a_seat_is_queued_or_leased(
    env: Env,
) -> None:
    """A seat queued right after a sampled completion, and leased by its drawn worker,
    shows nowhere in the public view until the next window: reading it at pop time tells
    a seat from an ordinary job no better than chance."""
    claimant, spy = staked(env, "ann"), staked(env, "eve")
    env.next_window()
    before = public_view(env)
    checked = claim(env, claimant)
    assert [s.validates for s in env.reads.seats.queued_seats()] == [checked]
    assert public_view(env) == before
    (seat,) = spy.pop(0, 4)
    assert seat_of(env, seat["job_id"]) == checked
    assert public_view(env) == before
    spy.submit([run_echo(spy, seat)])
    assert public_view(env) == before
    env.next_window()
    assert public_view(env) != before  # a window later, it all shows


# starve -------------------------------------------------------------------------


def squat(env: Env, squatter: WorkerClient, seats: list[str]) -> None:
    """Heartbeat ``seats`` every second for as long as the lease cap lets it."""
    lease_ms = int(env.reads.jobs.get(seats[0]).lease_expires_ms or 0)
    ttl_s = (lease_ms - env.clock.now_ms()) / 1000
    for _ in range(int(LEASE_MAX_FACTOR * ttl_s) + 2):
        squatter.heartbeat(seats)
        tick(env)


def test_starve_held_seats_are_redrawn_at_the_cap_and_cost_a_miss_not_a_conviction(
    env: Env,
) -> None:
    claimant, squatter = staked(env, "ann"), staked(env, "mal")
    claims = [claim(env, claimant) for _ in range(3)]
    seats = [a["job_id"] for a in squatter.pop(0, 8)]
    assert len(seats) == 3  # the only eligible worker: drawn for one seat of each panel
    squat(env, squatter, seats)
    assert squatter.pop(0) == []  # no seat of those panels comes back to it
    honest = [staked(env, name) for name in ("bob", "cat", "dan")]
    serve(env, honest)
    assert {check(env, c).status for c in claims} == {"upheld"}
    assert not any(b.validator_id == squatter.keys.public_key
                   for c in claims for b in ballots(env, c))  # fmt: skip
    epoch = env.reads.ledger.open_epoch().epoch
    assert env.reads.validations.seat_records(epoch)[squatter.keys.public_key].missed == 3
    close(env)
    verdicts = verdict_entries(env)
    assert verdicts.get(squatter.keys.public_key, {"invalid": 0})["invalid"] == 0
    assert verdicts[claimant.keys.public_key]["invalid"] == 0


def test_starve_a_seat_one_key_let_lapse_does_not_go_to_another_key_that_asks(env: Env) -> None:
    claimant, squatter = staked(env, "ann"), staked(env, "mal")
    claims = [claim(env, claimant) for _ in range(3)]
    seats = [a["job_id"] for a in squatter.pop(0, 8)]
    assert len(seats) == 3  # the only eligible worker: drawn for one seat of each panel
    sibling = staked(env, "mal", 200 * STAKE)  # the owner's second key, with all the stake
    assert sibling.pop(0, 8) == []  # its owner sits every panel already
    squat(env, squatter, seats)
    # the seats are free again and the sibling is the only other worker seen: were an
    # owner's lapsed seat barred to the key alone, it would be drawn for every one
    assert sibling.pop(0, 8) == []
    honest = [staked(env, name) for name in ("bob", "cat", "dan")]
    serve(env, [*honest, sibling])
    assert {check(env, c).status for c in claims} == {"upheld"}
    voters = {b.validator_id for c in claims for b in ballots(env, c)}
    assert voters and voters <= {w.keys.public_key for w in honest}


def seats_of(env: Env, job_id: str) -> list[Any]:
    """The queued seats on ``job_id``'s panel (with their drawn worker and draw time)."""
    return [j for j in env.reads.seats.queued_seats() if j.validates == job_id]


def reap_at(env: Env, now_ms: int) -> None:
    """Move the clock to ``now_ms`` exactly and run the reaper."""
    env.clock.ms = now_ms
    env.http.app.state.reaper.reap()


def test_starve_a_drawn_key_that_only_heartbeats_misses_its_seat_at_the_deadline(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # minutes pass on the test clock: the workers sign their requests by it, as workers
    # whose clocks agree with the coordinator's would
    signing_clock = SimpleNamespace(time=lambda: env.clock.now_ms() / 1000)
    monkeypatch.setattr(worker_client, "time", signing_clock)
    claimant, sitter = staked(env, "ann"), staked(env, "mal")
    job_id = claim(env, claimant)
    (seat,) = seats_of(env, job_id)
    assert seat.assigned_worker == sitter.keys.public_key  # the only eligible worker
    honest = [staked(env, name) for name in ("bob", "cat")]
    assert seat.assigned_ms is not None
    deadline = take_deadline_ms(seat.assigned_ms, seat.lease_ttl_s, LEASE_MAX_FACTOR)
    while env.clock.now_ms() < deadline:  # it stays live, drawn, and never pops
        for worker in [sitter, *honest]:
            worker.heartbeat([])
        assert [worker.pop(0) for worker in honest] == [[], []]  # nobody else may take it
        reap_at(env, min(deadline, env.clock.now_ms() + 30_000))
    epoch = env.reads.ledger.open_epoch().epoch
    assert env.reads.jobs.get(seat.id).assigned_worker == sitter.keys.public_key
    assert sitter.keys.public_key not in env.reads.validations.seat_records(epoch)
    reap_at(env, deadline + 1)  # past it: a missed seat, drawn again without the sitter
    redrawn = env.reads.jobs.get(seat.id)
    assert redrawn.state is JobState.QUEUED
    assert redrawn.assigned_worker in {w.keys.public_key for w in honest}
    assert redrawn.assigned_ms == deadline + 1  # the new worker's time counts afresh
    assert env.reads.validations.seat_records(epoch)[sitter.keys.public_key].missed == 1
    sitter.heartbeat([])
    assert sitter.pop(0, 8) == []  # the panel is closed to it
    serve(env, honest)
    assert check(env, job_id).status == "upheld"  # the panel completes
    assert sitter.keys.public_key not in {b.validator_id for b in ballots(env, job_id)}
    close(env)
    verdicts = verdict_entries(env)
    assert verdicts.get(sitter.keys.public_key, {"invalid": 0})["invalid"] == 0  # no conviction
    assert verdicts[claimant.keys.public_key]["invalid"] == 0


# late ---------------------------------------------------------------------------


def test_late_a_cheat_submitted_just_before_the_close_is_forfeited_when_its_check_fails(
    env: Env,
) -> None:
    cheat = staked(env, "mal")
    panel = [staked(env, f"v{i}") for i in range(3)]
    job_id = str(env.submit(env.image(width=64, height=64))["id"])
    (leased,) = cheat.pop(0, 1)
    ttl_s = (int(leased["lease_expires_ms"]) - env.clock.now_ms()) / 1000
    for _ in range(int(LEASE_MAX_FACTOR * ttl_s) - 2):  # held as long as heartbeats allow
        cheat.heartbeat([job_id])
        tick(env)
    cheat.submit([run_noise(cheat, leased)])
    before = owner_credits(env, "mal", [cheat])
    close(env)  # the close comes before any validator ran the check
    assert check(env, job_id).status == "pending"
    assert env.reads.jobs.get(job_id).payment != "paid"  # held, not paid
    serve(env, panel)
    assert check(env, job_id).status == "rejected"
    close(env)
    view = env.http.get(f"/api/v1/jobs/{job_id}", headers=env.auth).json()
    assert view["payment"] == "forfeited"
    # the owner was paid nothing for it, and the rejected check cost it slash_ppm of its stake
    slashed = STAKE * env.http.app.state.settings.slash_ppm // PPM
    assert slashed > 0
    assert owner_credits(env, "mal", [cheat]) == before - slashed
    alice = env.reads.users.by_name("alice")
    assert alice is not None
    refunds = env.reads.ledger.kind_entries(EntryKind.FORFEIT, accounts.user(alice.id))
    assert [e.job_id for e in refunds] == [job_id]


# timing -------------------------------------------------------------------------


def test_timing_claimed_run_times_do_not_change_the_emission_split(env: Env) -> None:
    # two keys of one owner, so that neither is drawn for the other's check and the
    # validator sits both (the split is per key all the same)
    liar, truthful = staked(env, "pat"), staked(env, "pat")
    validator = staked(env, "cat")
    jobs = [str(env.submit(env.image(width=64, height=64))["id"]) for _ in range(2)]
    leased = {w.keys.public_key: w.pop(0, 1)[0] for w in (liar, truthful)}
    assert sorted(a["job_id"] for a in leased.values()) == sorted(jobs)
    env.clock.advance(2.0)  # both take two seconds, as the coordinator sees it
    for worker, claimed_ms in ((liar, 1), (truthful, 2_000)):
        assignment = leased[worker.keys.public_key]
        job = job_of(assignment)
        (output,) = EchoBackend(job.offering, job.kind).run([job])
        receipt = Receipt.signed(worker.keys, job_id=job.id, input_digest=job.input_digest(),
                                 output_digest=output.digest(), artifact_digest=output.digest(),
                                 timings={"run_ms": claimed_ms})  # fmt: skip
        worker.submit([result_payload(job, output, receipt)])
    serve(env, [validator])
    assert {check(env, j).status for j in jobs} == {"upheld"}
    close(env)
    emitted = {
        accounts.account_id(e.posting.credit): int(e.amount)
        for e in env.reads.ledger.kind_entries(EntryKind.EMISSION)
    }
    assert emitted[liar.keys.public_key] > 0
    assert emitted[liar.keys.public_key] == emitted[truthful.keys.public_key]


# churn --------------------------------------------------------------------------


def test_churn_honest_workers_killed_holding_seats_and_jobs_are_not_convicted(env: Env) -> None:
    # each dead worker claims while the other is the only worker that may check it, so
    # who holds which seat is forced, whatever the epoch's seed
    crew = [staked(env, "w0"), staked(env, "w1")]
    early = [claim(env, crew[1]) for _ in range(2)]  # only w0 may check these
    dead_seats = crew[0].pop(0, 8)  # holds two seats
    late = [claim(env, crew[0]) for _ in range(2)]  # then claims twice, and crashes
    plain = str(env.submit(env.image(width=64, height=64))["id"])
    dead_job = crew[1].pop(0, 8)  # holds two seats and the ordinary job, then crashes
    assert len(dead_seats) == 2 and len(dead_job) == 3
    assert plain in {a["job_id"] for a in dead_job}
    tick(env, (int(dead_seats[0]["lease_expires_ms"]) - env.clock.now_ms()) / 1000 + 0.01)
    crew += [staked(env, f"w{i}") for i in (2, 3)]
    serve(env, crew[2:])
    assert {check(env, c).status for c in early + late} == {"upheld"}
    assert env.reads.jobs.get(plain).state.value == "completed"
    epoch = env.reads.ledger.open_epoch().epoch
    records = env.reads.validations.seat_records(epoch)
    assert [records[w.keys.public_key].missed for w in crew[:2]] == [2, 2]
    close(env)
    serve(env, crew)  # they come back with the same keys
    close(env)
    assert all(v["invalid"] == 0 for v in verdict_entries(env).values())
    assert {int(w.stake()["locked"]) for w in crew} == {STAKE}  # and nobody was slashed


# capture and rotate (features the issue requires) -----------------------------------


def test_capture_a_polling_key_with_a_tenth_of_the_stake_gets_seats_only_when_drawn(
    env: Env,
) -> None:
    partner = staked(env, "mal")
    colluder = staked(env, "mallory")
    honest = [staked(env, f"h{i}") for i in range(9)]
    claims = [claim(env, partner, cheat=True) for _ in range(20)]
    digests = {env.reads.jobs.get(c).input_digest for c in claims}
    taken = seats = 0
    for _ in range(60):
        while popped := colluder.pop(0, 8):  # it asks first, and again, every time
            for leased in popped:
                taken += 1
                same = leased["input_digest"] in digests
                result = run_noise(colluder, leased) if same else run_echo(colluder, leased)
                colluder.submit([result])
        for worker in honest:
            for leased in worker.pop(0, 8):
                seats += 1
                worker.submit([run_echo(worker, leased)])
        if not env.reads.validations.pending_checks():
            break
    seats += taken
    upheld = sum(check(env, c).status == "upheld" for c in claims)
    # a tenth of the stake: about a tenth of the seats, and a claim upheld only when its
    # first seat (or most of a grown panel) was drawn for the colluder; the bounds are
    # four standard deviations above a fair draw
    assert seats >= len(claims)
    assert taken <= 0.1 * seats + 4 * (0.09 * seats) ** 0.5 + 1
    assert upheld <= 7


def test_capture_a_requester_owning_a_worker_never_sits_its_own_jobs_panel(env: Env) -> None:
    claimant = staked(env, "ann")
    rita = staked(env, "rita", 200 * STAKE)  # she submits jobs, and holds nearly all stake
    assert rita.owner_key is not None
    own = claim(env, claimant, key=rita.owner_key)
    # she is the only worker that could sit it, and the draw would pick her: it waits
    assert [s.assigned_worker for s in seats_of(env, own)] == [None]
    assert rita.pop(0, 8) == []
    others = claim(env, claimant)  # someone else's job: she is drawn as anyone is
    (seat,) = rita.pop(0, 8)
    assert env.reads.jobs.get(seat["job_id"]).validates == others
    rita.submit([run_echo(rita, seat)])
    bob = staked(env, "bob")  # a twentieth of her stake
    mine = [own] + [claim(env, claimant, key=rita.owner_key) for _ in range(4)]
    theirs = [claim(env, claimant) for _ in range(4)]
    assert {s.assigned_worker for j in mine for s in seats_of(env, j)} == {bob.keys.public_key}
    assert rita.keys.public_key in {s.assigned_worker for j in theirs for s in seats_of(env, j)}
    serve(env, [rita, bob])
    assert {check(env, j).status for j in [*mine, others, *theirs]} == {"upheld"}
    voters = {j: {b.validator_id for b in ballots(env, j)} for j in [*mine, others, *theirs]}
    assert all(voters[j] == {bob.keys.public_key} for j in mine)
    assert rita.keys.public_key in set().union(*(voters[j] for j in [others, *theirs]))


def test_rotate_cheats_spread_one_per_key_convict_the_owner_on_every_key(env: Env) -> None:
    keys = [staked(env, "mal") for _ in range(4)]
    spare = staked(env, "mal")
    panel = [staked(env, f"v{i}") for i in range(3)]
    cheated = [claim(env, key, cheat=True) for key in keys]  # one failure per key
    fair = claim(env, spare)  # the owner's other key does honest work
    serve(env, panel)
    assert {check(env, c).status for c in cheated} == {"rejected"}
    assert check(env, fair).status == "upheld"
    close(env)
    # one failure is within an honest key's luck; four of the owner's five claims are not
    for key in [*keys, spare]:
        assert int(key.stake()["locked"]) < STAKE  # slashed on every key of the owner
    view = env.http.get(f"/api/v1/jobs/{fair}", headers=env.auth).json()
    assert view["payment"] == "forfeited"  # and its earnings in the epoch forfeited


def test_late_two_keys_of_one_owner_cannot_reject_an_honest_claim_at_the_close(env: Env) -> None:
    claimant = staked(env, "ann")
    liars = [staked(env, "mal"), staked(env, "mal")]
    job_id = claim(env, claimant)
    for _ in range(3):  # each asks, again and again, and lies on any seat it gets
        for liar in liars:
            for seat in liar.pop(0, 8):
                liar.submit([run_noise(liar, seat)])  # e.g. just before the close
    # one owner sits a panel once: one of its keys was drawn, the other never
    voters = [b.validator_id for b in ballots(env, job_id)]
    assert len(voters) == 1 and voters[0] in {w.keys.public_key for w in liars}
    assert check(env, job_id).status == "pending"
    close(env)  # one voice against the claim is not enough to settle it
    assert check(env, job_id).status != "rejected"
