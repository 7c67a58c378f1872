"""Child processes that start clean (spawned, no forked torch state) and die with their
parent, and a free loopback port for the servers they run."""

from __future__ import annotations

import signal
import socket
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context


def exit_with_parent() -> None:
    """On Linux, have the kernel stop this process when its parent dies.

    Without it, killing a calibration, a benchmark or a training run leaves its spawned
    children running a model until their current task ends (or, for a training replica
    waiting on its peers, until a collective times out).
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def spawn_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of freshly spawned processes that die with this one."""
    return ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=exit_with_parent
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
