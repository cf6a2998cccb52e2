"""The adapters behind the API, built from settings by the app's lifespan and closed by it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from runner.events.bus import EventBus
from runner.events.sink import EventRecorder
from runner.gateway.relay import Upstream
from runner.gateway.server import Gateway
from runner.gateway.upstream import open_upstream
from runner.sandbox.backend import SandboxBackend
from runner.sandbox.docker import DockerBackend
from runner.sessions.launcher import Launcher
from runner.sessions.manager import SessionManager
from runner.sessions.ports import Actor, GatewayHandle
from runner.settings import Settings
from runner.store.database import create_database_engine, migrate
from runner.store.sessions import SqlSessionStore

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything the API handlers reach through ``app.state.services``."""

    settings: Settings
    engine: Engine
    backend: SandboxBackend
    bus: EventBus
    recorder: EventRecorder
    manager: SessionManager
    resources: contextlib.AsyncExitStack

    async def start(self) -> None:
        adopted = await self.manager.readopt()
        if adopted:
            log.info("re-adopted %d running session(s): %s", len(adopted), ", ".join(adopted))

    async def close(self) -> None:
        await self.manager.close()
        await self.resources.aclose()
        await self.backend.close()
        self.engine.dispose()

    async def health(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await asyncio.to_thread(_ping_db, self.engine)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {exc}"
        try:
            await self.backend.list({})
            checks["sandbox"] = "ok"
        except Exception as exc:
            checks["sandbox"] = f"error: {exc}"
        return checks


def _ping_db(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def build_services(settings: Settings) -> Services:
    """Build the store, sandbox backend, gateways and session manager from ``settings``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_database_engine(settings.resolved_database_url)
    await asyncio.to_thread(migrate, engine)
    store = SqlSessionStore(engine)
    backend = DockerBackend.from_env()
    bus = EventBus()
    recorder = EventRecorder(bus)
    resources = contextlib.AsyncExitStack()
    upstream = await resources.enter_async_context(open_upstream(settings))
    gateways = _gateway_factory(upstream, frozenset(settings.allowed_models), recorder)
    launcher = Launcher(
        backend=backend,
        gateways=gateways,
        cols=settings.terminal_cols,
        rows=settings.terminal_rows,
        stall_seconds=settings.stall_seconds,
        labels=settings.container_labels,
    )
    manager = SessionManager(
        store=store,
        backend=backend,
        launcher=launcher,
        events=recorder,
        sessions_dir=settings.sessions_dir,
        default_image=settings.image,
    )
    return Services(settings, engine, backend, bus, recorder, manager, resources)


def _gateway_factory(upstream: Upstream, allowed: frozenset[str], recorder: EventRecorder) -> Any:
    def make(*, session_id: str, socket_path: Path, token: str, policy: str) -> GatewayHandle:
        async def on_event(kind: str, data: dict[str, Any]) -> None:
            await recorder.emit(kind, actor=Actor.system(), session=session_id, data=data)

        return Gateway(
            session_id=session_id,
            socket_path=socket_path,
            token=token,
            upstream_url=upstream.url,
            upstream_key=upstream.key,
            allowed_models=allowed,
            on_event=on_event,
        )

    return make
