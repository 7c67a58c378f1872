"""The development keys the tests and ``swarmgen demo --chain`` send from are anvil's own."""

from __future__ import annotations

from eth_account import Account

from swarmgen.chain.evm import connect
from swarmgen.chain.node import DEV_KEYS, AnvilNode


def test_every_development_key_is_a_funded_account_of_the_node(anvil: AnvilNode) -> None:
    w3 = connect(anvil.rpc_url)
    addresses = [Account.from_key(key).address for key in DEV_KEYS]
    assert addresses == w3.eth.accounts
    assert all(w3.eth.get_balance(address) > 0 for address in addresses)
