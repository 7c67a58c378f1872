"""A long-poll ends when its client hangs up.

An HTTP server goes on running a handler whose client has gone: a worker's pop would
stay parked in the waiting room for the rest of its wait, and a job handed to it would
be leased to nobody until its lease lapsed; a requester's status long-poll would hold
its wait for up to a minute, so a client hanging up and asking again could pile them
up. :func:`unless_hung_up` runs the handler's
wait beside the connection's next ASGI message, which is ``http.disconnect`` once the
client closes it (its body was read before), and drops the wait then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from fastapi import Request

T = TypeVar("T")


HUNG_UP = 499
"""The status logged for an answer nobody reads: its client closed the connection."""


class HungUp(Exception):
    """The client closed its connection while the handler waited for it."""


async def unless_hung_up(request: Request, wait: Coroutine[Any, Any, T]) -> T:
    """``wait``'s outcome; cancelled, and :class:`HungUp` raised, if ``request``'s
    client disconnects first. An outcome ready when the client hangs up is returned
    (its answer then goes nowhere, as it would have anyway)."""
    work = asyncio.ensure_future(wait)
    gone = asyncio.ensure_future(_hang_up(request))
    gone.add_done_callback(lambda _: work.cancel())  # a no-op once the outcome is ready
    try:
        outcome = await work
    except asyncio.CancelledError:
        if _stopping() or not gone.done() or gone.cancelled():
            raise  # this handler itself was cancelled (the server is stopping)
        raise HungUp from None
    finally:
        gone.cancel()
    if _stopping():  # the wait swallowed the server's cancellation: it still stands
        raise asyncio.CancelledError
    return outcome


def _stopping() -> bool:
    """Whether this handler's own task has been asked to stop."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _hang_up(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass  # more of a body already read: nothing to do with it
