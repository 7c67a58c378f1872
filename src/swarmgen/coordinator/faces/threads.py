"""Where the faces' blocking calls run: thread pools reached without anyio.

FastAPI runs a ``def`` route, a ``def`` dependency and, for a ``def`` route, the check
of its answer against the response model, each through anyio's thread pool
(``run_in_threadpool``). That hop costs about 105-135 µs of CPU here against 75 for
``run_in_executor`` on a plain pool (measured bare, 2 cores), and a ``def`` route took
three of them. A route marked :func:`threaded` is an ``async`` route that makes one
plain hop for its body and checks its answer on the event loop (pydantic's, in Rust);
an ``async`` dependency that calls :func:`in_thread` makes one plain hop too.

Two pools, for two kinds of wait:

- :data:`REQUESTS`: a request's database calls. As many threads as anyio's pool gave
  (40), not asyncio's default executor (6 on a 2-core host), which the services use for
  pops, leases and results: a key lookup or a submit must not queue behind writers
  blocked on a held lock.
- :data:`SIGNATURE_CHECKS`: CPU alone, so never queued behind database calls at all.

Each call runs in a copy of the caller's context, as anyio's and ``asyncio.to_thread``
do: a request's pending nonce (:mod:`swarmgen.store.pending`) rides into its thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

REQUESTS = ThreadPoolExecutor(40, thread_name_prefix="swarmgen-request")
"""A request's database calls (key lookups, submits, nonce records, heartbeats)."""

SIGNATURE_CHECKS = ThreadPoolExecutor(
    min(8, os.cpu_count() or 2), thread_name_prefix="swarmgen-signature"
)
"""Worker signature checks: CPU alone, about 75 µs each."""


async def in_pool(pool: Executor, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in a thread of ``pool``, in a copy of this context."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(pool, call)


async def in_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in a thread of :data:`REQUESTS`."""
    return await in_pool(REQUESTS, fn, *args, **kwargs)


def threaded(fn: Callable[P, T]) -> Callable[P, Coroutine[Any, Any, T]]:
    """``fn`` as an ``async`` route or dependency whose body runs by :func:`in_thread`.

    FastAPI reads the parameters through ``functools.wraps`` (it unwraps the signature)
    and sees a coroutine function, so it makes no hop of its own."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await in_thread(fn, *args, **kwargs)

    return run
