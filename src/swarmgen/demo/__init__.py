"""``swarmgen demo``: a local swarm with a cheater, told one step at a time.

- :mod:`.run` — starts the swarm, runs the jobs, waits for the checks, closes the epoch,
  exports and verifies the ledger (:func:`run_demo`).
- :mod:`.story` — reads an epoch's verdicts, refunds and earnings from the ledger.
- :mod:`.tables` — one short table per step.
- :mod:`.chain` — ``--chain``: the stake, the seal and the slash on a local EVM node.
"""

from swarmgen.demo.run import DemoReport, DemoSettings, run_demo

__all__ = ["DemoReport", "DemoSettings", "run_demo"]
