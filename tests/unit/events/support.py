"""The real app served by uvicorn in-process over the in-memory sandbox backend.

httpx's ASGI transport buffers whole responses, so streams (SSE, WebSocket) need a real
server: this runs ``create_app`` with ``build_services`` (SQLite, ledger, bus) on a free
loopback port inside the test's event loop. Claude Code is ``FakeClaude``.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from runner.app import create_app
from runner.core import Actor, SessionState
from runner.sandbox.memory import MemoryBackend
from runner.services import Services, build_services
from runner.settings import Settings
from tests.mounts import unmount_under
from tests.unit.sessions.fake_claude import FakeClaude

ALICE = Actor("alice", "default", frozenset({"operator", "approver", "viewer"}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def settings_for(root: Path, **overrides: Any) -> Settings:
    return Settings(
        **{
            "data_dir": root / "data",
            "workspace_roots": [root],
            "terminal_cols": 80,
            "terminal_rows": 24,
            "delivery_seconds": 0.9,
            "idle_settle_seconds": 0.1,
            "transcript_poll_seconds": 0.2,
            **overrides,
        }
    )


@dataclass
class Served:
    services: Services
    backend: MemoryBackend
    claude: FakeClaude
    url: str


@asynccontextmanager
async def serve(root: Path, port: int | None = None, **overrides: Any) -> AsyncIterator[Served]:
    """The app on a loopback port (``port``, else a free one); stopped (and its services
    closed) on exit."""
    backend = MemoryBackend()
    claude = FakeClaude(backend)
    settings = settings_for(root, **overrides)
    services = await build_services(settings, backend=backend)
    app = create_app(settings, services=services)
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield Served(services, backend, claude, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 20)
        finally:
            unmount_under(settings.data_dir)  # quota volumes of sessions left running


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def reach(services: Services, session_id: str, *states: SessionState) -> None:
    async def reached() -> bool:
        return (await services.manager.get(session_id, ALICE)).state in states

    await until(reached)


def work_dir(root: Path) -> Path:
    work = root / "work"
    work.mkdir(exist_ok=True)
    (work / "app.py").write_text("print('hi')\n")
    return work


async def recorded(services: Services, session_id: str, event_type: str, count: int = 1) -> None:
    """Until the ledger holds ``count`` events of ``event_type`` for the session (a client
    acts on what it was told, not on a state it guessed before the event went out)."""
    from audit.stores.base import EventFilter

    async def there() -> bool:
        flt = EventFilter(session=session_id, type=event_type)
        page = await asyncio.to_thread(services.ledger.query, flt, limit=1000)
        return len(page.entries) >= count

    await until(there)
