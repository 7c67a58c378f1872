"""Reading stake from the chain, and checking an export's seals against it (fake chain)."""

from __future__ import annotations

from pathlib import Path

from swarmgen.chain.anchor import check_against_chain
from swarmgen.chain.fake import FakeNetwork
from swarmgen.chain.outbox import ChainOutbox
from swarmgen.chain.port import ChainSeal, SlashClaim, key32
from swarmgen.chain.stake import chain_stakes
from swarmgen.clock import FakeClock
from swarmgen.coordinator.auditing import export
from swarmgen.coordinator.bootstrap import build_services
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.signing import KeyPair
from swarmgen.store.memory import MemoryStore


def test_stake_read_from_the_chain_discounts_a_pending_slash() -> None:
    net = FakeNetwork()
    coordinator, owner = net.view("0xc"), net.view("0xo")
    staked, slashed, unknown = (KeyPair.generate().public_key for _ in range(3))
    owner.deposit(key32(staked), 7)
    owner.deposit(key32(slashed), 9)
    coordinator.register_coordinator(b"\x01" * 32, 1)
    coordinator.post_seal(ChainSeal(0, b"\x01" * 32, b"\x01" * 32, 0))
    claim = SlashClaim(key32(slashed), 1, 0, b"e" * 32, b"r" * 32, b"j" * 32, b"a" * 32, b"b" * 32)
    coordinator.propose_slash(claim)
    owner.request_unlock(key32(staked), 3)  # unbonding stake can still be slashed
    assert chain_stakes(owner, [staked, slashed, unknown]) == {staked: 7, slashed: 0, unknown: 0}


def test_an_export_matches_the_chain_until_a_sealed_epoch_is_rewritten(tmp_path: Path) -> None:
    services = build_services(
        CoordinatorSettings(data=tmp_path), store=MemoryStore(), clock=FakeClock()
    )
    services.epochs.chain_outbox = True
    chain = FakeNetwork().view("0xc")
    reader = chain.net.view("0xr")
    chain.register_coordinator(key32(services.epochs.keys.public_key), 1)
    for _ in range(3):
        services.epochs.close_due(force=True)
    ChainOutbox(services.store, chain, services.clock).drain()
    lines = list(export(services.store, services.epochs.keys.public_key))
    report = check_against_chain(lines, reader)
    assert report.ok and report.checked == 3 and report.coordinator == "0xc"

    services.epochs.close_due(force=True)  # sealed, never posted
    unposted = check_against_chain(
        list(export(services.store, services.epochs.keys.public_key)), reader
    )
    assert not unposted.ok and unposted.problems == ["epoch 3: not sealed on chain"]

    stranger = KeyPair.generate().public_key
    foreign = [lines[0].replace(services.epochs.keys.public_key, stranger), *lines[1:]]
    assert check_against_chain(foreign, reader).problems == [
        "the export's coordinator key is not on chain"
    ]
