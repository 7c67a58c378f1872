"""Two coordinator processes on one anvil contract, three worker keys serving both.

Every worker stakes once, on chain; neither coordinator holds any of it. ``mal`` returns
noise on A and runs honestly on B. A's epoch close puts its seal on chain; the next
close (mal's panels, short of a third owner, carry over one close) proposes mal's slash;
A's outbox executes it once the challenge window has passed. From then on B checks every
job of mal and never seats it as a validator, while ann's and bob's jobs are checked at
the rate their clean epoch on B earned. Both exports verify against the chain, and a
tampered one does not.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from swarmgen.chain.evm import EvmChain, connect
from swarmgen.chain.node import DEV_KEYS, AnvilNode, anvil_binary
from swarmgen.chain.port import key32
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.keyfile import load_or_create
from swarmgen.localnet import LocalNetwork
from swarmgen.sdk.client import Client, image_job
from swarmgen.store import make_engine
from swarmgen.store import schema as t

from .test_verification_e2e import cli, wait_for_epoch, wait_for_panels

IMAGE = "echo-image@fp32"
EPOCH_S = 15
ETH = 10**18
STAKE = 10 * ETH
"""Ten credits at the default rate: twice the default minimum stake."""
WINDOW_S = 3
NAMES = ("ann", "bob", "mal")


def _until(what: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {timeout_s} s")
        time.sleep(0.1)


def _jobs(net: LocalNetwork, key: str, count: int, prefix: str) -> list[dict[str, object]]:
    with Client(net.url, key) as client:
        accepted = client.submit_many(
            [image_job(f"{prefix} {i}", IMAGE, width=64, height=64, steps=2) for i in range(count)]
        )
        return [client.wait(a["id"], timeout=EPOCH_S * 2) for a in accepted]


def _jobs_until(
    net: LocalNetwork, key: str, db: str, worker: str, least: int, prefix: str
) -> list[dict[str, object]]:
    """Rounds of 12 jobs until ``worker`` has run ``least`` of them (at most 9 rounds):
    echo jobs finish in milliseconds, and a worker can miss a whole round."""
    views: list[dict[str, object]] = []
    ran: list[str | None] = []
    for round_ in range(9):
        views += _jobs(net, key, 12, f"{prefix} {round_}")
        ran = [w for _, w, _ in _rows(db, [str(v["id"]) for v in views])]
        if ran.count(worker) >= least:
            return views
    raise AssertionError(f"{worker} ran {ran.count(worker)} of {len(ran)} jobs")


def _rows(db: str, ids: list[str]) -> list[tuple[str, str | None, float | None]]:
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            c = t.jobs.c
            return [
                (r.id, r.worker_id, r.sample_rate)
                for r in conn.execute(select(c.id, c.worker_id, c.sample_rate).where(c.id.in_(ids)))
            ]
    finally:
        engine.dispose()


def _seated(db: str, since_ms: int) -> set[str]:
    """Workers that ran validation seats created at or after ``since_ms``."""
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            c = t.jobs.c
            rows = conn.execute(
                select(c.worker_id).where(c.validates.is_not(None), c.created_ms >= since_ms)
            )
            return {r.worker_id for r in rows if r.worker_id}
    finally:
        engine.dispose()


def _next_epoch(net: LocalNetwork, key: str) -> int:
    """Wait for the coordinator's next epoch to open; returns its number."""
    with Client(net.url, key) as client:
        epoch = int(client.balance()["epoch"]) + 1
        wait_for_epoch(client, epoch, timeout=2 * EPOCH_S)
    return epoch


def _seals_posted(db: str) -> bool:
    """Every seal the coordinator owes is on chain (so an export taken now matches it)."""
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            c = t.chain_outbox.c
            waiting = conn.execute(
                select(c.key).where(c.kind == "seal", c.posted_ms.is_(None))
            ).all()
            return not waiting
    finally:
        engine.dispose()


def test_a_cheater_caught_on_one_coordinator_is_checked_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = anvil_binary()
    if binary is None:
        pytest.fail("anvil is missing: run `make install` (npm ci in chain/)")
    monkeypatch.setenv("SWARMGEN_EPOCH_LENGTH_S", str(EPOCH_S))
    monkeypatch.setenv("SWARMGEN_EPOCH_CHECK_S", "0.2")
    monkeypatch.setenv("SWARMGEN_PANEL_STAGES", "[1,3,5]")
    # idle workers take their seats after a second, not five: the test is about the chain
    monkeypatch.setenv("SWARMGEN_SEAT_HOLD_S", "1")
    data = {side: tmp_path / side for side in "ab"}
    with AnvilNode(binary) as node:
        w3 = connect(node.rpc_url)
        address = EvmChain.deploy(
            w3, DEV_KEYS[0], min_bond=ETH, unlock_delay_s=60, challenge_window_s=WINDOW_S
        ).contract.address
        reader, owner = EvmChain(w3, address), EvmChain(w3, address, DEV_KEYS[3])
        views = {"a": EvmChain(w3, address, DEV_KEYS[1]), "b": EvmChain(w3, address, DEV_KEYS[2])}
        for side, path in data.items():
            path.mkdir()
            coordinator_key = load_or_create(CoordinatorSettings(data=path).key_path)
            views[side].register_coordinator(key32(coordinator_key.public_key), ETH)
        ids = {}
        for name in NAMES:  # one key per worker, the same file in both data folders
            keys = load_or_create(data["a"] / f"worker-{name}.key")
            shutil.copy(data["a"] / f"worker-{name}.key", data["b"] / f"worker-{name}.key")
            owner.deposit(key32(keys.public_key), STAKE)
            ids[name] = keys.public_key
        latest = int(w3.eth.get_block("latest")["timestamp"])
        _until(lambda: time.time() >= latest + 1, 10)  # epoch 0 opens after every deposit

        chain_env = {
            "SWARMGEN_CHAIN_RPC_URL": node.rpc_url,
            "SWARMGEN_CHAIN_CONTRACT": address,
            "SWARMGEN_CHAIN_OUTBOX_INTERVAL_S": "0.2",
            "SWARMGEN_CHAIN_STAKE_CACHE_S": "0",
            "SWARMGEN_CHAIN_STAKE_PIN_LAG_S": "0",
        }
        with LocalNetwork(data["a"], stake=0) as a, LocalNetwork(data["b"], stake=0) as b:
            requesters = {}
            for side, net, key in (("a", a, DEV_KEYS[1]), ("b", b, DEV_KEYS[2])):
                requesters[side] = net.create_key("requester")
                owners = {name: net.create_key(f"owner-{name}") for name in NAMES}
                net.start_coordinator(180, {**chain_env, "SWARMGEN_CHAIN_PRIVATE_KEY": key})
                for name in NAMES:
                    cheat = "noise" if side == "a" and name == "mal" else None
                    extra = ["--max-batch", "2", "--pop-wait-s", "1"]
                    env = {"SWARMGEN_API_KEY": owners[name]}
                    assert (
                        net.start_worker(name, [IMAGE], *extra, env=env, cheat=cheat) == ids[name]
                    )
            db = {s: CoordinatorSettings(data=data[s]).db_url() for s in "ab"}
            seal_s = _cheat_on_a_slashed_on_chain(a, b, requesters, db, reader, views, ids)
            _b_checks_the_cheater(b, requesters["b"], db["b"], ids)
            _next_epoch(b, requesters["b"])  # B seals the epoch mal was checked in
            _exports_verify(tmp_path, data, db, node.rpc_url, address)
    print(f"epoch close to seal confirmed: {seal_s:.2f} s")


def _cheat_on_a_slashed_on_chain(
    a: LocalNetwork,
    b: LocalNetwork,
    requesters: dict[str, str],
    db: dict[str, str],
    reader: EvmChain,
    views: dict[str, EvmChain],
    ids: dict[str, str],
) -> float:
    """A fresh epoch on both: B's workers earn a clean one, mal cheats on A and is
    slashed on chain once the window passes. Returns seconds from A's close to its seal
    on chain."""
    _next_epoch(b, requesters["b"])
    a_epoch = _next_epoch(a, requesters["a"])
    b_views = _jobs(b, requesters["b"], 9, "b")
    # enough jobs that mal gets the four cheats a verdict needs on its claims alone (its
    # votes against honest claims split their panels, which abandons them and counts
    # for no one)
    a_views = _jobs_until(a, requesters["a"], db["a"], ids["mal"], 6, "a")
    assert {v["state"] for v in a_views + b_views} == {"completed"}
    wait_for_panels(db["a"], timeout=EPOCH_S)
    with Client(a.url, requesters["a"]) as client_a:
        wait_for_epoch(client_a, a_epoch + 1, timeout=2 * EPOCH_S)
        closed = time.monotonic()
        _until(lambda: reader.seal_of(views["a"].address, a_epoch) is not None, 10)
        seal_s = time.monotonic() - closed
        # mal's panels, two owners short of a third seat, carry over that close and
        # settle, unanimous, at the next
        wait_for_epoch(client_a, a_epoch + 2, timeout=2 * EPOCH_S)
    # judged at that close, or one later when a panel filled late on a slow machine
    _until(lambda: reader.slashes_against(key32(ids["mal"])), EPOCH_S + 10)
    (slash,) = reader.slashes_against(key32(ids["mal"]))
    # judged in the epoch its checks settled in (the next, or one after on a slow machine)
    assert slash.coordinator == views["a"].address and slash.epoch >= a_epoch + 1
    _until(lambda: reader.slash_state(slash.id) == "executed", 6 * WINDOW_S)
    assert reader.stake_of(key32(ids["mal"])).locked == STAKE - slash.amount
    assert reader.slashes_against(key32(ids["ann"])) == []
    return seal_s


def _b_checks_the_cheater(b: LocalNetwork, requester: str, db: str, ids: dict[str, str]) -> None:
    """B's next epoch opens after the slash: mal is checked at every job and seats none;
    ann's and bob's jobs are checked at their reputation's rate."""
    _next_epoch(b, requester)
    since = int(time.time() * 1000)
    later = _jobs_until(b, requester, db, ids["mal"], 1, "b-later")
    rates = {(w, r) for _, w, r in _rows(db, [str(v["id"]) for v in later])}
    assert {r for w, r in rates if w == ids["mal"]} == {1.0}, rates
    assert all(r is not None and r < 1.0 for w, r in rates if w != ids["mal"]), rates
    wait_for_panels(db, timeout=EPOCH_S)
    seated = _seated(db, since)
    assert seated and ids["mal"] not in seated


def _exports_verify(
    tmp_path: Path, data: dict[str, Path], db: dict[str, str], rpc_url: str, address: str
) -> None:
    """Both exports verify against the chain; a tampered one does not."""
    where = ("--chain", rpc_url, "--contract", address)
    for side in "ab":
        _until(lambda side=side: _seals_posted(db[side]), 10)
        path = tmp_path / f"{side}.jsonl"
        assert cli("ledger", "export", str(path), "--data", str(data[side])).returncode == 0
        checked = cli("ledger", "verify", str(path), *where)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert json.loads(checked.stdout.splitlines()[-1])["chain"]["ok"]
    text = (tmp_path / "a.jsonl").read_text()
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text(text.replace('"kind":"forfeit"', '"kind":"payout"', 1))
    assert text != tampered.read_text()
    assert cli("ledger", "verify", str(tampered), *where).returncode != 0
