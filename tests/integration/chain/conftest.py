"""A real anvil node per module and a fresh contract per test.

The node is ``anvil`` from the npm package under ``chain/`` (``make install`` puts it
there). Without it the tests skip on a laptop and fail on CI (``CI=true``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from swarmgen.chain.evm import EvmChain, connect
from swarmgen.chain.node import DEV_KEYS, AnvilNode, anvil_binary

BOND = 10**18
UNLOCK_S = 3_600
WINDOW_S = 600


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    binary = anvil_binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but anvil is missing: run `make install` (npm ci in chain/)")
        pytest.skip("anvil is missing: run `make install` (npm ci in chain/)")
    with AnvilNode(binary) as node:
        yield node


@dataclass
class Deployed:
    """The contract, seen from each of anvil's development accounts."""

    rpc_url: str
    address: str
    views: list[EvmChain]

    @property
    def coordinator(self) -> EvmChain:
        return self.views[1]

    @property
    def worker_owner(self) -> EvmChain:
        return self.views[2]

    @property
    def stranger(self) -> EvmChain:
        return self.views[3]


@pytest.fixture
def deployed(anvil: AnvilNode) -> Deployed:
    w3 = connect(anvil.rpc_url)
    chain = EvmChain.deploy(
        w3, DEV_KEYS[0], min_bond=BOND, unlock_delay_s=UNLOCK_S, challenge_window_s=WINDOW_S
    )
    address = chain.contract.address
    return Deployed(anvil.rpc_url, address, [EvmChain(w3, address, key) for key in DEV_KEYS])
