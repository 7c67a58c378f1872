"""A swarm on one machine: a coordinator and workers as separate processes on loopback.

Used by ``swarmgen demo``, the end-to-end tests and the benchmarks. Each process logs
to ``DATA/logs/NAME.log``.

A coordinator serves only workers with an owner and locked stake, so each worker is
staked as an operator would: its owner (the one named by ``--owner-key`` or
``SWARMGEN_API_KEY``, else a new user ``owner-NAME``) is granted :attr:`LocalNetwork.stake`
and locks it behind the worker through the worker API, before the process starts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from swarmgen.balancer import Balancer
from swarmgen.clock import SystemClock
from swarmgen.coordinator.admin import Admin, create_key, open_store
from swarmgen.coordinator.auth import hash_key
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.stake import MIN_STAKE
from swarmgen.keyfile import load_or_create
from swarmgen.processes import free_port
from swarmgen.sdk.worker_client import WorkerClient


@dataclass
class LocalNetwork:
    data: Path
    database_url: str | None = None
    lease_min_s: int | None = None
    stake: int = MIN_STAKE
    """Micro-credits locked behind each worker (0: none, for a coordinator run with
    ``SWARMGEN_MIN_STAKE=0``)."""
    port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)
    """Name → port of each coordinator replica (:meth:`start_replicas`)."""
    balancer: Balancer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(
        self,
        name: str,
        args: list[str],
        env: dict[str, str] | None = None,
        module: str = "swarmgen.cli.main",
    ) -> None:
        logs = self.data / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = (logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})},
        )
        log.close()

    def _common(self) -> list[str]:
        args = ["--data", str(self.data)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        return args

    def create_key(self, user: str, role: str = "user", *, horde: bool = False) -> str:
        settings = CoordinatorSettings(data=self.data, database_url=self.database_url)
        welcome = settings.welcome_credits
        store = open_store(settings)
        try:
            return create_key(store, SystemClock(), user, role, welcome, horde=horde).key
        finally:
            store.dispose()

    def grant(self, user: str, amount: int) -> None:
        """Mint ``amount`` micro-credits to ``user`` (an operator's grant)."""
        settings = CoordinatorSettings(data=self.data, database_url=self.database_url)
        admin = Admin.open(settings)
        try:
            admin.credits.grant(user, amount)
        finally:
            admin.store.dispose()

    def _user_of(self, key: str) -> str:
        """The name of the user whose API key is ``key``."""
        store = open_store(CoordinatorSettings(data=self.data, database_url=self.database_url))
        try:
            with store.transaction() as tx:
                user = tx.users.by_key_hash(hash_key(key))
        finally:
            store.dispose()
        if user is None:
            raise ValueError("unknown owner key")
        return user.name

    def stake_worker(self, name: str, keys_path: Path, models: list[str], owner_key: str) -> None:
        """Register the worker under ``owner_key``'s user, grant that user :attr:`stake`
        and lock it behind the worker with the worker's own signed request (the real
        API). The worker process registers again at start with its real capabilities."""
        client = WorkerClient(self.url, load_or_create(keys_path), owner_key=owner_key)
        try:
            client.register(name, models, 64 * 64, 1)
            self.grant(self._user_of(owner_key), self.stake)
            client.lock_stake(self.stake)
        finally:
            client.close()

    def start_coordinator(
        self, timeout: float = 60, env: dict[str, str] | None = None, processes: int = 1
    ) -> str:
        """Start the coordinator (``env`` adds ``SWARMGEN_*`` settings); returns its URL."""
        args = ["coordinator", *self._common(), "--port", str(self.port)]
        args += ["--processes", str(processes)]
        if self.lease_min_s is not None:
            args += ["--lease-min-s", str(self.lease_min_s)]
        self._spawn("coordinator", args, env)
        _wait_healthy(self.procs["coordinator"], self.url, timeout, self.data)
        return self.url

    def start_replicas(
        self, count: int, timeout: float = 60, env: dict[str, str] | None = None
    ) -> str:
        """Start ``count`` coordinator replicas (``replica-0`` …), each its own process
        on its own port, sharing the database and the data folder's key, behind a
        round-robin balancer on :attr:`port`; returns the balancer's URL.

        Replicas are for PostgreSQL (``database_url``); blobs they share through a bucket
        (``SWARMGEN_BLOB_STORE=s3`` in ``env``) or, on one machine, the data folder.
        """
        settings = CoordinatorSettings(data=self.data, database_url=self.database_url)
        open_store(settings).dispose()  # migrate once, before the replicas race to
        load_or_create(settings.key_path)  # one coordinator key for all of them
        for i in range(count):
            self.start_replica(f"replica-{i}", timeout, env)
        self.balancer = Balancer(list(self.replicas.values()), self.port).start()
        return self.url

    def start_replica(
        self, name: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> int:
        """Start one more replica (or restart ``name``) on a port of its own; the
        balancer, once started, sends new connections to it too."""
        port = free_port()
        args = ["coordinator", *self._common(), "--port", str(port)]
        if self.lease_min_s is not None:
            args += ["--lease-min-s", str(self.lease_min_s)]
        self._spawn(name, args, env)
        _wait_healthy(self.procs[name], f"http://127.0.0.1:{port}", timeout, self.data)
        self.replicas[name] = port
        if self.balancer is not None:
            self.balancer.backends = list(self.replicas.values())
        return port

    def leader(self, since: str = "") -> str | None:
        """The living replica that last logged taking the leadership (log lines start
        with their local time, ``YYYY-MM-DD HH:MM:SS,mmm``, so the latest claim is the
        current one); with ``since`` (a time in that form), only a claim made after it."""
        claims: list[tuple[str, str]] = []
        for name in self.replicas:
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            log = (self.data / "logs" / f"{name}.log").read_text()
            claims += [(ln[:23], name) for ln in log.splitlines() if "leading the periodic" in ln]
        claims = [claim for claim in claims if claim[0] > since]
        return max(claims)[1] if claims else None

    def start_worker(
        self,
        name: str,
        models: list[str],
        *extra: str,
        env: dict[str, str] | None = None,
        cheat: str | None = None,
        cheat_rate: float = 1.0,
    ) -> str:
        """Start a worker process; returns its id (public key).

        With ``cheat`` it is the tools' cheating worker (tests and benchmarks), which
        applies that cheat to ``cheat_rate`` of its jobs.
        """
        keys = load_or_create(self.data / f"worker-{name}.key")
        args = ["--coordinator", self.url, "--data", str(self.data), "--name", name]
        if self.stake > 0:
            owner_key = _owner_key(extra, env)
            if owner_key is None:
                owner_key = self.create_key(f"owner-{name}")
                args += ["--owner-key", owner_key]
            self.stake_worker(name, self.data / f"worker-{name}.key", models, owner_key)
        for model in models:
            args += ["--model", model]
        if cheat is None:
            self._spawn(name, ["worker", *args, *extra], env)
        else:
            cheating = ["--cheat", cheat, "--cheat-rate", str(cheat_rate)]
            self._spawn(name, [*cheating, *args, *extra], env, "swarmgen.tools.cheat_worker")
        return keys.public_key

    def wait_ready(self, name: str, worker_id: str, since_ms: int, timeout: float = 600) -> None:
        """Until worker process ``name`` has loaded its models and registered itself
        (its public page shows it seen at or after ``since_ms``, a time taken after
        :meth:`start_worker` returned)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"worker {name} exited; see {self.data / 'logs'}")
            try:
                page = httpx.get(f"{self.url}/api/v1/workers/{worker_id}", timeout=5)
            except httpx.TransportError:
                page = None
            seen = page.json()["last_seen_ms"] if page and page.status_code == 200 else -1
            if seen >= since_ms:
                return
            time.sleep(0.25)
        raise TimeoutError(f"worker {name} did not register within {timeout} s")

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        proc = self.procs.pop(name, None)
        if proc is None:  # stopped already (by another thread of a test or bench)
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def close(self) -> None:
        """Stop workers first (they hand back jobs), then the coordinator or replicas."""
        servers = {"coordinator", *self.replicas}
        for name in [n for n in self.procs if n not in servers]:
            self.stop(name)
        for name in [n for n in self.procs if n in servers]:
            self.stop(name)
        if self.balancer is not None:
            self.balancer.stop()
            self.balancer = None

    def __enter__(self) -> LocalNetwork:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float, data: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"coordinator exited; see {data / 'logs'}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"coordinator at {url} did not answer /healthz")


def _owner_key(extra: tuple[str, ...], env: dict[str, str] | None) -> str | None:
    """The owner API key a worker's arguments or environment name, if any."""
    args = list(extra)
    for flag in ("--owner-key",):
        if flag in args and args.index(flag) + 1 < len(args):
            return args[args.index(flag) + 1]
    return (env or {}).get("SWARMGEN_API_KEY")
