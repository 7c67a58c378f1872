"""A round-robin TCP load balancer on loopback, for trying replicas on one machine.

Replicas are stateless, so any balancer in front of them will do (nginx, HAProxy, a
cloud one). This one exists so a local network, its tests and its benchmarks need none
installed: each new connection goes to the next backend that accepts it, skipping any
that refuse (a killed replica), and bytes are copied both ways until either side closes.
A connection whose replica dies is closed, and the client's retry lands on a live one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading

from swarmgen.processes import free_port

CONNECT_TIMEOUT_S = 2.0


class Balancer:
    """Listens on ``127.0.0.1:port`` and spreads connections over ``backends`` (ports)."""

    def __init__(self, backends: list[int], port: int | None = None) -> None:
        self.backends = list(backends)
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="balancer", daemon=True)
        self._turn = itertools.count()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Balancer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            pending = asyncio.all_tasks(self._loop)
            for task in pending:  # connections still being copied
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        backends = list(self.backends)
        first = next(self._turn)
        for i in range(len(backends)):
            port = backends[(first + i) % len(backends)]
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT_S
                )
            except (OSError, TimeoutError):
                continue
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend = await self._open()
        if backend is None:
            writer.close()
            return
        upstream_reader, upstream_writer = backend
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, ConnectionError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()
