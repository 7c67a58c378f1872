"""The loopback balancer spreads connections over live backends and skips dead ones."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from swarmgen.balancer import Balancer
from swarmgen.processes import free_port


def backend(name: str) -> FastAPI:
    app = FastAPI()

    @app.get("/who")
    def who() -> dict[str, str]:
        return {"name": name}

    return app


@pytest.fixture
def two_backends() -> Iterator[list[int]]:
    with ExitStack() as stack:
        ports = []
        for name in ("a", "b"):
            config = uvicorn.Config(backend(name), host="127.0.0.1", port=0, log_level="warning")
            server = uvicorn.Server(config)
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.01)
            ports.append(server.servers[0].sockets[0].getsockname()[1])

            def stop(server: uvicorn.Server = server, thread: threading.Thread = thread) -> None:
                server.should_exit = True
                thread.join(10)

            stack.callback(stop)
        yield ports


def names(url: str, count: int) -> list[str]:
    seen = []
    for _ in range(count):  # a new connection each time
        with httpx.Client(base_url=url, timeout=5) as http:
            seen.append(http.get("/who").json()["name"])
    return seen


def test_connections_go_round_robin_and_skip_a_dead_backend(two_backends: list[int]) -> None:
    dead = free_port()
    balancer = Balancer([*two_backends, dead]).start()
    try:
        seen = names(balancer.url, 6)
        assert sorted(set(seen)) == ["a", "b"]
        assert abs(seen.count("a") - seen.count("b")) <= 2
        balancer.backends = [dead]
        with pytest.raises(httpx.TransportError):
            names(balancer.url, 1)
    finally:
        balancer.stop()
