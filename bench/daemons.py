"""Idle worker daemons: what real ``swarmgen worker`` processes cost a coordinator while
nothing is queued.

``bench/waiters.py`` simulates a thousand long-polling workers in one process; this runs
DAEMONS real worker processes (echo backend, one torch thread) against one coordinator
(SQLite in a temporary data folder, no checks), as a fleet of idle daemons would, with
their own long-poll and heartbeat settings. The coordinator's CPU time (user + system
of its process tree, from ``/proc``) over IDLE_S seconds once every daemon is waiting,
less what it spends alone over the same time (its periodic tasks, measured before any
daemon starts), per daemon per second is ``idle_cpu_ms_per_daemon_s``. Then every
daemon is stopped with SIGTERM, one after another (``stop_s``: all of them).

    python bench/daemons.py --daemons 16 --idle-s 60
    python bench/daemons.py --daemons 16 --pop-wait-s 5   # a shorter long-poll

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from dispatch import tree_cpu_s
from swarmgen.localnet import LocalNetwork

MODEL = "echo-image@fp32"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daemons", type=int, default=16, help="worker processes")
    parser.add_argument("--idle-s", type=float, default=60.0, help="idle spell measured")
    parser.add_argument("--base-s", type=float, default=20.0, help="coordinator alone")
    parser.add_argument("--settle-s", type=float, default=40.0, help="before measuring")
    parser.add_argument("--pop-wait-s", type=float, default=None, help="default: the daemon's")
    args = parser.parse_args()
    extra = ["--threads", "1"]
    if args.pop_wait_s is not None:
        extra += ["--pop-wait-s", str(args.pop_wait_s)]

    with tempfile.TemporaryDirectory() as tmp, LocalNetwork(Path(tmp)) as net:
        net.start_coordinator(env={"SWARMGEN_VERIFY": "false"})
        server = net.procs["coordinator"].pid
        time.sleep(3)  # start-up work done
        before = tree_cpu_s(server)
        time.sleep(args.base_s)
        base_per_s = (tree_cpu_s(server) - before) / args.base_s
        for n in range(args.daemons):
            net.start_worker(f"idle-{n}", [MODEL], *extra)
        time.sleep(args.settle_s)  # every daemon registered and waiting
        before = tree_cpu_s(server)
        time.sleep(args.idle_s)
        idle_s = tree_cpu_s(server) - before - base_per_s * args.idle_s
        started = time.monotonic()
        codes = [net.stop(f"idle-{n}") for n in range(args.daemons)]
        stop_s = time.monotonic() - started

    figures = {
        "daemons": args.daemons,
        "pop_wait_s": args.pop_wait_s if args.pop_wait_s is not None else "default",
        "idle_s": args.idle_s,
        "base_cpu_ms_per_s": round(base_per_s * 1000, 3),
        "idle_cpu_s": round(idle_s, 3),
        "idle_cpu_ms_per_daemon_s": round(idle_s * 1000 / args.daemons / args.idle_s, 4),
        "stop_s": round(stop_s, 2),
        "clean_exits": codes.count(0),
    }
    print("idle worker daemons on one coordinator (SQLite), coordinator CPU from /proc")
    for name, value in figures.items():
        print(f"  {name:<26} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
