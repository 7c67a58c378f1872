"""Routes and dependencies marked ``threaded``: one plain hop, FastAPI none of its own."""

# No ``from __future__ import annotations``: FastAPI must see the route-local dependency.

import asyncio
import contextvars
import threading
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Header

from swarmgen.coordinator.faces.threads import in_thread, threaded

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def test_a_call_runs_off_the_loop_in_a_copy_of_the_callers_context() -> None:
    async def main() -> tuple[str, str, str]:
        REQUEST_ID.set("r-1")

        def look() -> tuple[str, str]:
            seen = REQUEST_ID.get()
            REQUEST_ID.set("changed in the thread")
            return seen, threading.current_thread().name

        seen, thread = await in_thread(look)
        return seen, thread, REQUEST_ID.get()

    seen, thread, after = asyncio.run(main())
    assert seen == "r-1"
    assert thread.startswith("swarmgen-request")
    assert after == "r-1"  # a copy: the thread's change stays in the thread


def test_an_exception_comes_back_to_the_awaiting_route() -> None:
    def fail() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        asyncio.run(in_thread(fail))


def _app(threads: list[str], loop_threads: list[str]) -> FastAPI:
    app = FastAPI()

    class Keys:
        @threaded
        def caller(self, x_key: Annotated[str, Header()]) -> str:
            threads.append(threading.current_thread().name)
            return f"caller {x_key}"

    keys = Keys()

    @app.get("/items/{item_id}")
    @threaded
    def item(item_id: int, caller: Annotated[str, Depends(keys.caller)], q: str = "") -> dict:
        threads.append(threading.current_thread().name)
        return {"id": item_id, "caller": caller, "q": q}

    @app.middleware("http")
    async def note_loop(request, call_next):  # type: ignore[no-untyped-def]
        loop_threads.append(threading.current_thread().name)
        return await call_next(request)

    return app


def test_fastapi_reads_the_parameters_and_makes_no_hop_of_its_own() -> None:
    threads: list[str] = []
    loop_threads: list[str] = []
    app = _app(threads, loop_threads)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            bad = await client.get("/items/x", headers={"x-key": "k"})
            assert bad.status_code == 422  # the path parameter is still validated
            return await client.get("/items/7?q=z", headers={"x-key": "k"})

    answer = asyncio.run(call())
    assert answer.json() == {"id": 7, "caller": "caller k", "q": "z"}
    # The dependency ran for both requests, the route for the valid one: all in the
    # pool's threads, none in anyio's ("AnyIO worker thread").
    assert len(threads) == 3
    assert all(name.startswith("swarmgen-request") for name in threads), threads
    params = {p["name"] for p in app.openapi()["paths"]["/items/{item_id}"]["get"]["parameters"]}
    assert params == {"item_id", "q", "x-key"}
