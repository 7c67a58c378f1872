"""The dispatch bench's count of server CPU: a process and all its descendants."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
from tests.unit.bench.bench_module import load


@pytest.fixture(scope="module")
def dispatch() -> ModuleType:
    return load("dispatch")


def stat(proc: Path, pid: int, ppid: int, utime: int, stime: int, comm: str = "py") -> None:
    (proc / str(pid)).mkdir()
    rest = ["S", str(ppid), *["0"] * 9, str(utime), str(stime), *["0"] * 5]
    (proc / str(pid) / "stat").write_text(f"{pid} ({comm}) {' '.join(rest)}\n")


def test_cpu_is_summed_over_the_process_tree_only(dispatch: ModuleType, tmp_path: Path) -> None:
    hz = os.sysconf("SC_CLK_TCK")
    stat(tmp_path, 10, 1, hz, hz)  # the coordinator: 2 s
    stat(tmp_path, 11, 10, hz, 0, comm="a (odd) name")  # a server process: 1 s
    stat(tmp_path, 12, 11, 0, hz)  # its child: 1 s
    stat(tmp_path, 20, 1, 5 * hz, 0)  # a worker, not the server's: not counted
    assert dispatch.tree_cpu_s(10, tmp_path) == pytest.approx(4.0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_this_process_has_used_some_cpu(dispatch: ModuleType) -> None:
    assert dispatch.tree_cpu_s(os.getpid()) > 0


def test_memory_is_summed_over_the_process_tree_only(dispatch: ModuleType, tmp_path: Path) -> None:
    for pid, ppid, now, peak in ((10, 1, 1024, 2048), (11, 10, 512, 512), (20, 1, 9999, 9999)):
        stat(tmp_path, pid, ppid, 0, 0)
        status = f"Name:\tpy\nVmHWM:\t  {peak} kB\nVmRSS:\t  {now} kB\n"
        (tmp_path / str(pid) / "status").write_text(status)
    assert dispatch.tree_rss_mb(10, tmp_path) == pytest.approx((1.5, 2.5))
