"""The chain: stake, epoch seals and slashes on an EVM contract, behind a port.

:mod:`.port` says what the coordinator, the CLI and the verifier need from a chain;
:mod:`.evm` is the adapter on web3.py against ``chain/contracts/SwarmgenStake.sol``
(its compiled artifact is ``artifact.json``, next to this file); :mod:`.fake` the
in-memory stand-in that unit tests use; :mod:`.outbox` posts what the coordinator
wrote to its outbox at seal time; :mod:`.stake` reads the stake the coordinator
weighs workers by (pinned per epoch for the draw); :mod:`.anchor` compares an
export's seals with the chain; :mod:`.node` runs a local ``anvil`` node. Nothing here
is imported unless a chain is configured, so the coordinator runs unchanged without one.
"""
