"""Benchmark live events: screen change → SSE event at a client, and SSE fan-out cost.

    python bench/bench_events.py [--changes 200] [--clients 100]

The driver is the in-memory sandbox backend with the unit tests' screen painter
(``tests/unit/sessions/fake_claude.py``: the real CLI's idle and working screens): the
bench writes a screen into the session's terminal stream, and everything after that is
the real controller (``build_services`` over SQLite with the audit ledger, the pump,
the classifier, the settling, the recorder, the bus, uvicorn and sse-starlette on
loopback). Docker and Claude Code are left out on purpose: they add their own latency
before the bytes reach the controller, which is not what is measured here. The idle
settle is off (``idle_settle_seconds=0``: an idle after work would otherwise wait
0.75 s on purpose); the settling of every other state is on, at its defaults, and its
time is part of each figure.

1. Latency: ``--changes`` alternating working/idle screens; for each, the time from
   writing the bytes to an SSE client (httpx-sse, in its own thread and event loop)
   receiving the ``session.state`` event. Prints p50 / p95 / max. The changes come
   ``state_settle_seconds`` apart (a real agent's states last longer): a screen that
   changes state faster than that is flapping, and waits the settle time on purpose.
2. Fan-out: the time from writing a screen until the session has judged it (its state
   decided: the detection an agent's clients wait on), for every screen update: a state
   change every ``--updates-per-change`` updates, spinner frames and drafts (updates of
   the same state) in between, ``--update-ms`` apart, so updates arrive while the
   previous change's event goes out. First with no SSE client, then with ``--clients``
   SSE clients on that session (in a separate process, reading every event). Prints
   p50 / p95 of both and the p95 ratio (goal: at most 2). On a machine with two or more
   cores the controller is kept to one core and the clients' process to another, in
   both phases, so the clients' own parsing does not compete with the controller for
   its core (in production the clients are elsewhere).
"""

# A benchmark polls on purpose (it must not add a wake-up of its own to what it measures),
# starts its client process once, and its SSE clients wait without a timeout.
# ruff: noqa: ASYNC110, ASYNC220, S113

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from httpx_sse import aconnect_sse, connect_sse  # noqa: E402

from runner.api.security import LOCAL_ACTOR  # noqa: E402
from runner.app import create_app  # noqa: E402
from runner.core import SessionState  # noqa: E402
from runner.sandbox.memory import MemoryBackend  # noqa: E402
from runner.services import Services, build_services  # noqa: E402
from runner.sessions.requests import SessionRequest  # noqa: E402
from runner.settings import Settings  # noqa: E402
from tests.mounts import unmount_under  # noqa: E402
from tests.unit.sessions.fake_claude import FakeClaude, idle_screen, working_screen  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def _screen(i: int) -> tuple[bytes, SessionState]:
    if i % 2 == 0:
        return working_screen(f"change {i}"), SessionState.WORKING
    return idle_screen(), SessionState.IDLE


def _update(i: int, per_change: int) -> tuple[bytes, SessionState]:
    """Update ``i``: a new state every ``per_change`` updates, the same state between."""
    cycle, step = divmod(i, per_change)
    if cycle % 2 == 0:
        return working_screen(f"change {cycle} · frame {step}"), SessionState.WORKING
    return idle_screen(f"draft {step}" if step else ""), SessionState.IDLE


class Listener(threading.Thread):
    """One SSE client in its own thread; notes when each session.state event arrived."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.arrivals: list[float] = []
        self.ready = threading.Event()

    def run(self) -> None:
        try:
            with httpx.Client(timeout=None) as client, connect_sse(client, "GET", self.url) as sse:
                self.ready.set()
                for event in sse.iter_sse():
                    if event.event == "session.state":
                        self.arrivals.append(time.perf_counter())
        except httpx.HTTPError:
            pass  # the bench is over and the server went away


async def _latency(services: Services, base: str, sid: str, box: str, changes: int) -> list[float]:
    apart = services.settings.state_settle_seconds + 0.02
    head = services.feed.head()
    listener = Listener(f"{base}/v1/sessions/{sid}/events?after={head}")
    listener.start()
    await asyncio.to_thread(listener.ready.wait, 10)
    await asyncio.sleep(0.5)
    # The session's own idle may be recorded after ``head`` was read: not a change of ours.
    seen = len(listener.arrivals)
    backend: MemoryBackend = services.backend  # type: ignore[assignment]
    latencies = []
    for i in range(changes):
        data, _state = _screen(i)
        started = time.perf_counter()
        backend.write(box, data)
        while len(listener.arrivals) <= seen + i:
            await asyncio.sleep(0.0005)
        latencies.append((listener.arrivals[seen + i] - started) * 1000)
        await asyncio.sleep(apart - (time.perf_counter() - started))
    return latencies


async def _detection(
    services: Services, sid: str, box: str, updates: int, per_change: int, apart: float
) -> tuple[list[float], list[float]]:
    live = services.manager.live_view(sid)
    backend: MemoryBackend = services.backend  # type: ignore[assignment]
    times: list[float] = []
    published: list[float] = []
    for i in range(updates):
        data, state = _update(i, per_change)
        before = live.updates
        started = time.perf_counter()
        backend.write(box, data)
        assert await live.wait_for_update(before, 5)
        times.append((time.perf_counter() - started) * 1000)
        if i % per_change == 0:  # a state change: also until it is the session's state
            assert await live.wait_for(lambda o, _p, s=state: o.state == s, 5)  # type: ignore[misc]
            published.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(apart - (time.perf_counter() - started))
    return times, published


async def _clients(url: str, count: int) -> None:
    """The client process: ``count`` SSE connections reading every event until killed."""
    received = [0] * count

    async def one(n: int, client: httpx.AsyncClient) -> None:
        async with aconnect_sse(client, "GET", url) as sse:
            async for _ in sse.aiter_sse():
                received[n] += 1

    limits = httpx.Limits(max_connections=count + 10)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with httpx.AsyncClient(timeout=None, limits=limits) as client:
        tasks = [asyncio.create_task(one(n, client)) for n in range(count)]
        await stop.wait()
        for task in tasks:
            task.cancel()
    print(json.dumps({"events": sum(received), "clients": count}), flush=True)


async def main(changes: int, clients: int, per_change: int, apart: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "work").mkdir()
        settings = Settings(
            data_dir=root / "data", workspace_roots=[root], terminal_cols=80, terminal_rows=24,
            idle_settle_seconds=0, stall_seconds=3600, sse_queue_size=1024,
        )  # fmt: skip
        backend = MemoryBackend()
        FakeClaude(backend)
        services = await build_services(settings, backend=backend)
        app = create_app(settings, services=services)
        port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        base = f"http://127.0.0.1:{port}"
        try:
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(root / "work")), LOCAL_ACTOR
            )
            while (await services.manager.get(record.id, LOCAL_ACTOR)).state != "idle":
                await asyncio.sleep(0.05)
            (box,) = backend.sandboxes
            await _report(services, base, record.id, box, changes, clients, per_change, apart)
        finally:
            server.should_exit = True
            await serving
            unmount_under(root)  # the session's quota volume


async def _report(
    services: Services,
    base: str,
    sid: str,
    box: str,
    changes: int,
    clients: int,
    per_change: int,
    apart: float,
) -> None:
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    # The controller keeps to one core and the 100 clients get their own (where there are
    # two), in both phases: what is measured is the controller's fan-out, not the
    # clients' own parsing competing with it for a core.
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 1:
        os.sched_setaffinity(0, cpus[:-1])
    latency = await _latency(services, base, sid, box, changes)
    print(
        f"screen change → SSE event at the client, {changes} changes: "
        f"p50 {_pct(latency, 50):.1f} ms, p95 {_pct(latency, 95):.1f} ms, "
        f"max {max(latency):.1f} ms (goal p95 ≤ 50 ms; settling included: "
        f"quiet {services.settings.state_quiet_seconds * 1000:.0f} ms)"
    )
    updates = changes
    alone, alone_states = await _detection(services, sid, box, updates, per_change, apart)
    listeners = services.bus.listeners
    # Live clients (from now on): the replay a joining client reads is a one-off cost.
    url = f"{base}/v1/sessions/{sid}/events?after={services.feed.head()}"
    crowd = subprocess.Popen(
        [sys.executable, __file__, "--client", url, "--clients", str(clients)],
        stdout=subprocess.PIPE, text=True,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus[-1:])) if len(cpus) > 1 else None,
    )  # fmt: skip

    while services.bus.listeners < listeners + clients:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # every client is connected and live
    crowded, crowded_states = await _detection(services, sid, box, updates, per_change, apart)
    os.sched_setaffinity(0, cpus)
    crowd.send_signal(signal.SIGTERM)
    out, _ = crowd.communicate(timeout=30)
    got = json.loads(out.strip().splitlines()[-1])
    ratio = _pct(crowded, 95) / _pct(alone, 95)
    print(
        f"state detection per update, no SSE client: p50 {_pct(alone, 50):.2f} ms, "
        f"p95 {_pct(alone, 95):.2f} ms"
    )
    print(
        f"state detection per update, {clients} SSE clients: p50 {_pct(crowded, 50):.2f} ms, "
        f"p95 {_pct(crowded, 95):.2f} ms (ratio {ratio:.2f}, goal ≤ 2); "
        f"the clients received {got['events']} events"
    )
    print(
        f"state change until it is the session's state ({len(alone_states)} changes, settling"
        f" included): no client p50 {_pct(alone_states, 50):.1f} ms, p95"
        f" {_pct(alone_states, 95):.1f} ms; {clients} clients p50"
        f" {_pct(crowded_states, 50):.1f} ms, p95 {_pct(crowded_states, 95):.1f} ms"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--updates-per-change", type=int, default=10)
    parser.add_argument("--update-ms", type=float, default=30.0)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(_clients(args.client, args.clients))
    else:
        per_change, apart = args.updates_per_change, args.update_ms / 1000
        asyncio.run(main(args.changes, args.clients, per_change, apart))
