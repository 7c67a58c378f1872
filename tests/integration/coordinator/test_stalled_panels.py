"""Panels the stages never decided, through the real app on SQLite and PostgreSQL.

With the production stages (3, 5, 7) and only two or three other owners on the network
a panel cannot fill: it carries over the close of its claim's epoch, and at the next
close it is settled only on two or more owners who all agree; anything else abandons
the check: the requester is refunded once, the claimant is not paid for the job, and no
one is slashed, convicted or penalised
(:func:`swarmgen.core.verification.escalation.settle_stalled`).
"""

from __future__ import annotations

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.test_adversary import (
    STAKE,
    claim,
    close,
    owner_credits,
    serve,
    staked,
)
from tests.integration.coordinator.test_verification import (
    ballots,
    check,
    run_noise,
    verdict_entries,
)

from swarmgen.core import accounts
from swarmgen.core.ledger import EntryKind
from swarmgen.sdk.worker_client import WorkerClient

pytestmark = pytest.mark.parametrize("settings_overrides", [{"panel_stages": (3, 5, 7)}])


def lie(workers: list[WorkerClient]) -> None:
    """Each worker submits the cheater's noise on every seat it is given (so it agrees
    with a cheated claim and disagrees with an honest one)."""
    for worker in workers:
        for seat in worker.pop(0, 8):
            worker.submit([run_noise(worker, seat)])


def alice(env: Env) -> str:
    user = env.reads.users.by_name("alice")
    assert user is not None
    return accounts.user(user.id)


def refunds(env: Env, job_id: str) -> list[int]:
    """The refunds of ``job_id`` to its requester."""
    found = env.reads.ledger.kind_entries(EntryKind.FORFEIT, alice(env))
    return [int(e.amount) for e in found if e.job_id == job_id]


def release_of(env: Env, job_id: str) -> int:
    (entry,) = [e for e in env.reads.ledger.kind_entries(EntryKind.RELEASE) if e.job_id == job_id]
    return int(entry.amount)


def payment(env: Env, job_id: str) -> str:
    view = env.http.get(f"/api/v1/jobs/{job_id}", headers=env.auth).json()
    return str(view["payment"])


def votes(env: Env, job_id: str) -> dict[str, str]:
    return {b.validator_id: b.vote for b in ballots(env, job_id)}


def convicted(env: Env) -> set[str]:
    return {w for w, memo in verdict_entries(env).items() if memo["invalid"] == 1}


def test_a_tie_with_a_colluder_never_upholds_the_cheat(env: Env) -> None:
    partner, colluder, fair = staked(env, "mal"), staked(env, "mallory"), staked(env, "hon")
    job_id = claim(env, partner, cheat=True)
    lie([colluder])  # the partner's exact output on its seat: it agrees
    serve(env, [fair])  # the honest voice disagrees
    assert sorted(votes(env, job_id).values()) == ["agree", "disagree"]
    assert check(env, job_id).status == "pending"  # two owners cannot fill three seats
    before = owner_credits(env, "mal", [partner])
    spent = env.reads.ledger.balance(alice(env))
    close(env)
    assert check(env, job_id).status == "pending"  # carried over, earnings held
    assert payment(env, job_id) == "pending"
    close(env)
    assert check(env, job_id).status == "abandoned"
    assert payment(env, job_id) == "forfeited"
    assert owner_credits(env, "mal", [partner]) == before  # not paid, not slashed
    assert refunds(env, job_id) == [release_of(env, job_id)]
    assert env.reads.ledger.balance(alice(env)) == spent + release_of(env, job_id)
    close(env)  # and never again
    assert refunds(env, job_id) == [release_of(env, job_id)]
    assert check(env, job_id).status == "abandoned"
    assert convicted(env) == set()
    assert not any(b.penalised for b in ballots(env, job_id))
    assert {int(w.stake()["locked"]) for w in (partner, colluder, fair)} == {STAKE}


def test_a_tie_against_an_honest_claim_convicts_no_one(env: Env) -> None:
    ann, liar, fair = staked(env, "ann"), staked(env, "mal"), staked(env, "hon")
    job_id = claim(env, ann)
    lie([liar])
    serve(env, [fair])
    assert sorted(votes(env, job_id).values()) == ["agree", "disagree"]
    close(env)
    close(env)
    assert check(env, job_id).status == "abandoned"
    assert convicted(env) == set()
    assert int(ann.stake()["locked"]) == STAKE
    assert refunds(env, job_id) == [release_of(env, job_id)]


def test_two_colluding_owners_do_not_convict_an_honest_key(env: Env) -> None:
    ann = staked(env, "ann")
    liars = [staked(env, "mal"), staked(env, "eve")]
    fair = staked(env, "hon")
    job_id = claim(env, ann)
    lie(liars)
    serve(env, [fair])
    # two owners against one honest voice: escalated to five seats no one else can take
    assert sorted(votes(env, job_id).values()) == ["agree", "disagree", "disagree"]
    before = owner_credits(env, "ann", [ann])
    close(env)
    assert check(env, job_id).status == "pending"
    close(env)
    assert check(env, job_id).status == "abandoned"
    assert ann.keys.public_key not in convicted(env)
    assert owner_credits(env, "ann", [ann]) == before  # no slash (and no pay for the job)
    assert payment(env, job_id) == "forfeited"
    assert refunds(env, job_id) == [release_of(env, job_id)]
    assert not any(b.penalised for b in ballots(env, job_id))


def test_two_agreeing_owners_uphold_at_the_next_close_and_the_claim_is_paid(env: Env) -> None:
    ann, panel = staked(env, "ann"), [staked(env, "bob"), staked(env, "cat")]
    job_id = claim(env, ann)
    serve(env, panel)
    assert sorted(votes(env, job_id).values()) == ["agree", "agree"]
    before = owner_credits(env, "ann", [ann])
    close(env)
    assert check(env, job_id).status == "pending"
    assert owner_credits(env, "ann", [ann]) == before  # held through the first close
    close(env)
    assert check(env, job_id).status == "upheld"
    assert payment(env, job_id) == "paid"
    assert owner_credits(env, "ann", [ann]) >= before + release_of(env, job_id)
    assert refunds(env, job_id) == []


def test_two_disagreeing_owners_reject_at_the_next_close_and_slash(env: Env) -> None:
    cheat, panel = staked(env, "mal"), [staked(env, "bob"), staked(env, "cat")]
    job_id = claim(env, cheat, cheat=True)
    serve(env, panel)
    assert sorted(votes(env, job_id).values()) == ["disagree", "disagree"]
    close(env)
    assert check(env, job_id).status == "pending"
    close(env)
    assert check(env, job_id).status == "rejected"
    assert payment(env, job_id) == "forfeited"
    assert refunds(env, job_id) == [release_of(env, job_id)]
    assert int(cheat.stake()["locked"]) < STAKE
    assert {int(w.stake()["locked"]) for w in panel} == {STAKE}


def test_one_voice_abandons_at_the_next_close(env: Env) -> None:
    ann, liar = staked(env, "ann"), staked(env, "mal")
    job_id = claim(env, ann)
    lie([liar])
    assert list(votes(env, job_id).values()) == ["disagree"]
    close(env)
    close(env)
    assert check(env, job_id).status == "abandoned"
    assert payment(env, job_id) == "forfeited"
    assert refunds(env, job_id) == [release_of(env, job_id)]
    assert convicted(env) == set()
    assert int(ann.stake()["locked"]) == STAKE


def test_an_abandoned_check_does_not_let_its_claimant_earn_reputation(env: Env) -> None:
    partner, colluder, fair = staked(env, "mal"), staked(env, "mallory"), staked(env, "hon")
    job_id = claim(env, partner, cheat=True)
    lie([colluder])
    serve(env, [fair])
    close(env)
    key = partner.keys.public_key
    held = env.reads.validations.reputations([key]).get(key, 0.0)
    claim(env, partner)  # work in the next epoch, which would count as a clean epoch
    close(env)
    assert check(env, job_id).status == "abandoned"
    assert env.reads.validations.reputations([key]).get(key, 0.0) == held


def test_a_claim_still_pending_at_its_epoch_s_close_earns_no_reputation(env: Env) -> None:
    """A claim's first close can come before its check is decided (its panel carries
    over): that close must not count as a clean epoch, or a cheat's first close would
    lower the rate its next epoch is checked at. The close that upholds it counts."""
    claimant, first, second = (staked(env, name) for name in ("ann", "bob", "cid"))
    job_id = claim(env, claimant)
    key = claimant.keys.public_key
    serve(env, [first, second])  # two seats filled; the first stage wants three
    close(env)
    assert check(env, job_id).status == "pending"
    assert env.reads.validations.reputations([key]).get(key, 0.0) == 0.0
    close(env)  # two owners agree: settled on them at the close after its epoch
    assert check(env, job_id).status == "upheld"
    assert env.reads.validations.reputations([key]).get(key, 0.0) > 0.0
