"""A long-poll's wait, dropped when its client hangs up and only then."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, cast

import pytest
from fastapi import Request

from swarmgen.coordinator.faces.hangup import HungUp, unless_hung_up


class Connection:
    """What :func:`unless_hung_up` reads of a request: its next ASGI message."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.closed.wait()
        return {"type": "http.disconnect"}


def request(connection: Connection) -> Request:
    return cast("Request", connection)


def test_the_outcome_is_returned_and_the_watch_ends() -> None:
    async def main() -> None:
        connection = Connection()
        assert await unless_hung_up(request(connection), asyncio.sleep(0.01, "done")) == "done"
        watching = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await asyncio.sleep(0)  # the watch's cancellation lands
        assert all(t.done() for t in watching)

    asyncio.run(main())


def test_a_hang_up_cancels_the_wait_and_raises_hung_up() -> None:
    async def main() -> None:
        connection = Connection()
        cleaned = asyncio.Event()

        async def wait() -> str:
            try:
                await asyncio.sleep(60)
            finally:
                cleaned.set()
            return "never"

        asyncio.get_running_loop().call_later(0.01, connection.closed.set)
        with pytest.raises(HungUp):
            await unless_hung_up(request(connection), wait())
        assert cleaned.is_set()  # the wait ran its clean-up before HungUp was raised

    asyncio.run(main())


def test_an_outcome_ready_as_the_client_hangs_up_is_still_returned() -> None:
    async def main() -> None:
        connection = Connection()

        async def wait() -> str:
            connection.closed.set()  # the client goes as the answer is ready
            return "answer"

        assert await unless_hung_up(request(connection), wait()) == "answer"

    asyncio.run(main())


def server_cancels(wait: Callable[[], Coroutine[Any, Any, object]], *, client_goes: bool) -> None:
    """Cancel a handler waiting on ``wait()`` as the server would (the client going at
    the same moment when ``client_goes``): it must end cancelled, not hung up."""

    async def main() -> None:
        connection = Connection()
        handler = asyncio.ensure_future(unless_hung_up(request(connection), wait()))
        await asyncio.sleep(0.01)
        if client_goes:
            connection.closed.set()
        handler.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handler

    asyncio.run(main())


def test_a_handler_cancelled_by_the_server_is_cancelled_not_hung_up() -> None:
    server_cancels(lambda: asyncio.sleep(60), client_goes=False)


def test_a_server_cancellation_the_wait_swallows_still_cancels_the_handler() -> None:
    async def stubborn() -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            return "swallowed"  # as asyncio.wait_for may, when its wait ends meanwhile
        return "never"

    server_cancels(stubborn, client_goes=False)


def test_a_server_cancellation_with_the_client_gone_is_a_cancellation() -> None:
    # the server stops as the client goes: not answered as a hang-up
    server_cancels(lambda: asyncio.sleep(60), client_goes=True)
