"""The real Warden app and its services over SQLite, in-process, without a sandbox.

For API tests whose requests never reach a container (auth, templates, memory,
validation): every piece is the project's own (``create_app``, the routers, the
``SessionManager`` over SQLite, the event recorder, the audit ledger); only the
sandbox backend and launcher are absent, because nothing here starts a session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine

from audit.ledger import Ledger
from runner.app import create_app
from runner.auth.authenticator import Authenticator
from runner.events.bus import EventBus
from runner.events.ledger import LedgerAppender, open_ledger
from runner.events.sink import EventRecorder
from runner.pipelines.executor import PipelineService
from runner.sessions.hooklog import HookLog
from runner.sessions.manager import SessionManager
from runner.sessions.policy_gate import PolicyGate
from runner.settings import Settings
from runner.store.database import create_database_engine, migrate
from runner.store.pipelines import SqlPipelineStore
from runner.store.sessions import SqlSessionStore


@dataclass
class OfflineServices:
    """What the routers reach through ``app.state.services``."""

    engine: Engine
    bus: EventBus
    recorder: EventRecorder
    manager: SessionManager
    ledger: Ledger
    gate: PolicyGate
    pipelines: PipelineService
    sessions: SqlSessionStore
    auth: Authenticator | None = None


@asynccontextmanager
async def offline_app(
    settings: Settings, root: Path
) -> AsyncIterator[tuple[FastAPI, OfflineServices]]:
    """The app with services over ``root/warden.db``; set ``services.auth`` to enforce auth."""
    url = f"sqlite:///{root / 'warden.db'}"
    engine = create_database_engine(url)
    migrate(engine)
    ledger = open_ledger(url, root / "keys")
    bus = EventBus()
    recorder = EventRecorder(bus, LedgerAppender(ledger))
    gate = PolicyGate(None)
    sessions = SqlSessionStore(engine)
    manager = SessionManager(
        store=sessions,
        backend=None,  # type: ignore[arg-type]  # no request here reaches a container
        launcher=None,  # type: ignore[arg-type]
        events=recorder,
        gate=gate,
        hooks=HookLog(),
        sessions_dir=settings.sessions_dir,
        default_image=settings.image,
    )
    pipelines = PipelineService(
        store=SqlPipelineStore(engine), manager=manager, ledger=ledger, events=recorder
    )
    services = OfflineServices(engine, bus, recorder, manager, ledger, gate, pipelines, sessions)
    app = create_app(settings)
    app.state.services = services
    try:
        yield app, services
    finally:
        ledger.close()
        engine.dispose()


def client_for(app: FastAPI) -> httpx.AsyncClient:
    """An HTTP client that calls the app in-process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://warden")
