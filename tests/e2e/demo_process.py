"""``swarmgen demo --serve`` in a subprocess, for the demo e2e tests: started, read until
it serves, and stopped (Ctrl-C's SIGTERM, then the whole process group) when done."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SERVING = re.compile(r"serving (http://127\.0\.0\.1:\d+/) until Ctrl-C")


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    out: Path
    url: str
    lines: list[str]

    @property
    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out / "summary.json").read_text())
        return data


def _read(proc: subprocess.Popen[str], into: queue.Queue[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        into.put(line)


@contextlib.contextmanager
def served_demo(out: Path, args: list[str], ready_s: float) -> Iterator[Demo]:
    """Run ``swarmgen demo --out OUT ARGS --serve`` until it prints where it serves
    (failing the test after ``ready_s`` or if it exits first); stop it afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmgen.cli.main", "demo", "--out", str(out), *args, "--serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
        start_new_session=True,  # its own process group, so nothing it started outlives it
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_read, args=(proc, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    deadline = time.monotonic() + ready_s
    url = None
    try:
        while url is None:
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("the demo never served:\n" + "".join(seen))
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
            found = SERVING.search(seen[-1])
            url = found.group(1) if found else None
        yield Demo(proc, out, url, seen)
    finally:
        if proc.poll() is None:
            proc.terminate()  # the demo stops its swarm on SIGTERM
        try:
            proc.wait(60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        reader.join(10)
        assert proc.stdout is not None
        proc.stdout.close()
