"""A local EVM node: ``anvil`` from the npm package ``@foundry-rs/anvil``.

Tests and the demo start one on 127.0.0.1 at a free port and stop it when done; its
accounts are anvil's well-known development keys (never use them on a real chain).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from swarmgen.chain.port import ChainError
from swarmgen.processes import free_port

DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)
"""anvil's ten development accounts, each funded at start (public knowledge: local
nodes only)."""

_PACKAGE_BINARY = "chain/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"


def anvil_binary(root: Path | None = None) -> Path | None:
    """The anvil binary: the npm package's under ``chain/``, else one on ``PATH``."""
    here = root or Path(__file__).resolve().parents[3]
    candidate = here / _PACKAGE_BINARY
    if candidate.is_file():
        return candidate
    found = shutil.which("anvil")
    return Path(found) if found else None


@dataclass
class AnvilNode:
    """A running anvil process; use it as a context manager."""

    binary: Path
    port: int = field(default_factory=free_port)
    block_time_s: int | None = None
    """Mine a block every this many seconds (as a public chain does); ``None``: mine
    each transaction at once."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> AnvilNode:
        args = [str(self.binary), "--host", "127.0.0.1", "--port", str(self.port), "--silent"]
        if self.block_time_s is not None:
            args += ["--block-time", str(self.block_time_s)]
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ChainError(f"anvil exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ChainError(f"anvil did not listen on port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def advance(rpc_url: str, seconds: int) -> None:
    """Move a development node's clock forward and mine a block (anvil's own RPC)."""
    from swarmgen.chain.evm import connect

    w3 = connect(rpc_url)
    w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
