"""MCP benchmark: tool-call latency over /mcp (streamable HTTP) and over ``warden mcp``
(stdio → REST), and how soon ``wait_for_state`` returns after the state is reached.

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
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters

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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(main(parser.parse_args().calls))
