"""The adapters behind the API, built from settings by the app's lifespan and closed by it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from sqlalchemy import Engine, text

from audit.ledger import Ledger
from runner.auth.authenticator import Authenticator, open_authenticator
from runner.auth.tokens import ApiTokens
from runner.events.bus import EventBus
from runner.events.ledger import LedgerAppender, open_ledger
from runner.events.sink import EventRecorder
from runner.gateway.upstream import open_upstream
from runner.pipelines.executor import PipelineService
from runner.sandbox.backend import SandboxBackend
from runner.sandbox.docker import DockerBackend
from runner.sessions.gateways import GatewayFactory
from runner.sessions.hooklog import HookLog
from runner.sessions.launcher import Launcher
from runner.sessions.manager import SessionManager
from runner.sessions.policy_gate import PolicyGate
from runner.settings import Settings
from runner.store.database import create_database_engine, migrate
from runner.store.pipelines import SqlPipelineStore
from runner.store.sessions import SqlSessionStore
from runner.store.tokens import SqlTokenStore

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
    ledger: Ledger
    gate: PolicyGate
    resources: contextlib.AsyncExitStack
    auth: Authenticator | None = None
    pipelines: PipelineService | None = None

    async def start(self) -> None:
        adopted = await self.manager.readopt()
        if adopted:
            log.info("re-adopted %d running session(s): %s", len(adopted), ", ".join(adopted))
        if self.pipelines is not None:
            await self.pipelines.recover()

    async def close(self) -> None:
        if self.pipelines is not None:
            await self.pipelines.close()  # first: its stages delete their sessions
        await self.manager.close()
        await self.resources.aclose()
        await self.backend.close()
        await asyncio.to_thread(self.ledger.close)
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
    # The ledger opens before anything can act: with no ledger, nothing runs.
    ledger = await asyncio.to_thread(
        open_ledger, settings.resolved_database_url, settings.data_dir / "keys"
    )
    recorder = EventRecorder(bus, LedgerAppender(ledger))
    resources = contextlib.AsyncExitStack()
    upstream = await resources.enter_async_context(open_upstream(settings))
    gate = PolicyGate(settings.policies_dir)
    hooks = HookLog()
    gateways = GatewayFactory(
        upstream=upstream, gate=gate, events=recorder, store=store, hooks=hooks
    )
    launcher = Launcher(
        backend=backend,
        gateways=gateways,
        gate=gate,
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
        gate=gate,
        hooks=hooks,
        sessions_dir=settings.sessions_dir,
        default_image=settings.image,
    )
    auth = await resources.enter_async_context(
        open_authenticator(
            enabled=settings.auth_enabled,
            issuers=settings.auth_issuers,
            tokens=ApiTokens(SqlTokenStore(engine), recorder),
        )
    )
    pipelines = PipelineService(
        store=SqlPipelineStore(engine), manager=manager, ledger=ledger, events=recorder
    )
    return Services(
        settings, engine, backend, bus, recorder, manager, ledger, gate, resources, auth, pipelines
    )
