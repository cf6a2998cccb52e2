"""MCP benchmark: tool-call latency over /mcp (streamable HTTP) and over ``warden mcp``
(stdio → REST), how soon ``wait_for_state`` returns after the state is reached, and how
soon a subscriber's ``notifications/resources/updated`` arrives after it.

    python bench/bench_mcp.py [--calls 200]

Runs the real app in-process (uvicorn on loopback, in-memory sandboxes, the test
suite's FakeClaude as the agent). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.subscriptions import ResourceUpdated
from mcp_types import ResourceUpdatedNotification

from runner.api.security import LOCAL_ACTOR
from runner.core import SessionState
from tests.unit.events.support import serve, work_dir
from tests.unit.mcp.support import http_client, ok


def _figures(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(f"{name:<48} n={len(ms):<4} median {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms")


async def _latency(client: Client, sid: str, calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        ok(await client.call_tool("get_session", {"session_id": sid}))
        samples.append(time.perf_counter() - started)
    return samples


async def main(calls: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-mcp-"))
    async with serve(root) as served:
        env = {**os.environ, "WARDEN_SERVER": served.url}
        stdio = StdioServerParameters(
            command=sys.executable, args=["-m", "runner.cli", "mcp"], env=env
        )
        async with http_client(served.url) as http, Client(stdio) as piped:
            sid = ok(await http.call_tool("create_session", {"workspace": str(work_dir(root))}))[
                "id"
            ]
            ok(await http.call_tool("wait_for_state", {"session_id": sid, "states": ["idle"]}))
            _figures("get_session over /mcp (HTTP)", await _latency(http, sid, calls))
            _figures("get_session over warden mcp (stdio)", await _latency(piped, sid, calls))

            for name, client in (("HTTP", http), ("stdio", piped)):
                lags = []
                for _ in range(10):
                    waiting = asyncio.create_task(
                        client.call_tool(
                            "wait_for_state",
                            {
                                "session_id": sid,
                                "states": ["permission_prompt"],
                                "timeout_seconds": 30,
                            },
                        )
                    )
                    await asyncio.sleep(0.3)
                    await served.services.manager.send(sid, "[[bash: ls]]", LOCAL_ACTOR)
                    # The bench samples the live state itself: when it changed is what it measures.
                    while served.services.manager.live_state(sid) != SessionState.PERMISSION_PROMPT:  # noqa: ASYNC110
                        await asyncio.sleep(0.005)
                    reached = time.perf_counter()
                    ok(await waiting)
                    lags.append(time.perf_counter() - reached)
                    await served.services.manager.reject(sid, LOCAL_ACTOR)
                    ok(
                        await client.call_tool(
                            "wait_for_state", {"session_id": sid, "states": ["idle"]}
                        )
                    )
                _figures(f"wait_for_state wake-up after the state ({name})", lags)


class Arrivals:
    """When each update for one URI arrived (perf_counter), and a wake-up for the next."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.times: list[float] = []
        self.event = asyncio.Event()

    def arrived(self, uri: str) -> None:
        if uri == self.uri:
            self.times.append(time.perf_counter())
            self.event.set()

    async def on_message(self, message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            self.arrived(message.params.uri)


@asynccontextmanager
async def _listening(client: Client, arrivals: Arrivals) -> AsyncIterator[None]:
    async with client.listen(resource_subscriptions=[arrivals.uri]) as sub:

        async def drain() -> None:
            async for event in sub:
                if isinstance(event, ResourceUpdated):
                    arrivals.arrived(event.uri)

        task = asyncio.create_task(drain())
        try:
            yield
        finally:
            task.cancel()


async def _update_lags(
    served: Any, sid: str, arrivals: Arrivals, wait_idle: Callable[[], Awaitable[Any]]
) -> list[float]:
    """Each time: the state reaches permission_prompt → the subscriber's update arrives."""
    manager = served.services.manager
    lags = []
    for _ in range(10):
        arrivals.times.clear()
        arrivals.event.clear()
        await manager.send(sid, "[[bash: ls]]", LOCAL_ACTOR)
        while manager.live_state(sid) != SessionState.PERMISSION_PROMPT:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        reached = time.perf_counter()
        # The first update after it (working came before, from the send).
        while not [t for t in arrivals.times if t >= reached - 0.005]:
            arrivals.event.clear()
            await asyncio.wait_for(arrivals.event.wait(), 30)
        lags.append(max(0.0, min(t for t in arrivals.times if t >= reached - 0.005) - reached))
        await manager.reject(sid, LOCAL_ACTOR)
        await wait_idle()
    return lags


async def subscriptions(root: Path) -> None:
    async with serve(root) as served:
        env = {**os.environ, "WARDEN_SERVER": served.url}
        stdio = StdioServerParameters(
            command=sys.executable, args=["-m", "runner.cli", "mcp"], env=env
        )
        async with http_client(served.url) as http:
            sid = ok(await http.call_tool("create_session", {"workspace": str(work_dir(root))}))[
                "id"
            ]
            uri = f"warden://sessions/{sid}"

            async def idle() -> None:
                args = {"session_id": sid, "states": ["idle"]}
                ok(await http.call_tool("wait_for_state", args))

            await idle()
            listened = Arrivals(uri)
            async with _listening(http, listened):
                lags = await _update_lags(served, sid, listened, idle)
            _figures("update after the state: listen over /mcp (HTTP)", lags)
            async with Client(stdio) as piped:
                listened = Arrivals(uri)
                async with _listening(piped, listened):
                    lags = await _update_lags(served, sid, listened, idle)
            _figures("update after the state: listen over warden mcp", lags)
            legacy = Arrivals(uri)
            async with Client(stdio, mode="legacy", message_handler=legacy.on_message) as piped:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    await piped.subscribe_resource(uri)
                lags = await _update_lags(served, sid, legacy, idle)
            _figures("update after the state: subscribe, warden mcp", lags)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(main(parser.parse_args().calls))
    asyncio.run(subscriptions(Path(tempfile.mkdtemp(prefix="bench-mcp-subs-"))))
