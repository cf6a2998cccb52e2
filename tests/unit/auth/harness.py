"""The real Warden app and auth stack, driven in-process, with a real JWKS over HTTP.

Everything is the project's own code (``create_app``, the routers, ``authenticate``,
``Authenticator``, ``OidcValidator``, ``ApiTokens`` over SQLite, ``SessionManager``
over SQLite, ``EventRecorder`` + ``EventBus`` + the audit ledger); the sandbox backend
is absent because no request here reaches a container. The identity provider is a real
HTTP server in a thread (``tests.oidc_provider``); only its refresh-pacing clock is stepped
by hand.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from audit.ledger import Ledger
from runner.app import create_app
from runner.auth.authenticator import Authenticator
from runner.auth.config import IssuerConfig
from runner.auth.oidc import OidcValidator
from runner.auth.tokens import ApiTokens
from runner.events.bus import Event, EventBus
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
from runner.store.tokens import SqlTokenStore
from tests.oidc_provider import OidcProvider

AUDIENCE = "warden-api"

ROLE_MAP = {
    "warden-viewers": ["viewer"],
    "warden-operators": ["operator"],
    "warden-approvers": ["approver"],
    "warden-auditors": ["auditor"],
    "warden-admins": ["admin"],
    "warden-root": ["global_admin"],
}


def issuer_config(provider: OidcProvider, **overrides: Any) -> IssuerConfig:
    values: dict[str, Any] = {
        "issuer": provider.issuer,
        "audience": AUDIENCE,
        "role_claims": ["groups", "roles", "realm_access.roles"],
        "role_map": ROLE_MAP,
        "tenant_claim": "tenant",
        **overrides,
    }
    return IssuerConfig(**values)


def claims(group: str | None = "warden-viewers", **extra: Any) -> dict[str, Any]:
    """An access token's claims for alice in tenant acme, in ``group``."""
    base: dict[str, Any] = {"aud": AUDIENCE, "sub": "alice", "tenant": "acme", "scope": "warden"}
    if group is not None:
        base["groups"] = [group]
    return {**base, **extra}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode())


class Clock:
    """A monotonic clock the test steps (the refresh pacing is a minute long)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class AppServices:
    """What the API reaches through ``app.state.services`` in these tests."""

    auth: Authenticator
    recorder: EventRecorder
    manager: SessionManager
    ledger: Ledger
    gate: PolicyGate
    engine: Engine
    pipelines: PipelineService


@dataclass
class Harness:
    client: httpx.AsyncClient
    provider: OidcProvider
    clock: Clock
    sessions: SqlSessionStore
    tokens: SqlTokenStore
    queue: asyncio.Queue[Event]
    seen: list[Event] = field(default_factory=list)

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def as_group(self, group: str, **extra: Any) -> dict[str, str]:
        return self.bearer(self.provider.mint(claims(group, **extra)))

    def events(self, type_: str | None = None) -> list[Event]:
        """Every event recorded so far (optionally of one type)."""
        while not self.queue.empty():
            self.seen.append(self.queue.get_nowait())
        return [e for e in self.seen if type_ is None or e.type == type_]


@asynccontextmanager
async def running_app(
    provider: OidcProvider, tmp_path: Path, *, config: IssuerConfig | None = None
) -> AsyncIterator[Harness]:
    """The Warden API with authentication enforced, trusting ``provider``."""
    config = config or issuer_config(provider)
    settings = Settings(data_dir=tmp_path / "data", auth_issuers=[config])
    database_url = f"sqlite:///{tmp_path / 'warden.db'}"
    engine = create_database_engine(database_url)
    migrate(engine)
    ledger = open_ledger(database_url, tmp_path / "keys")
    bus = EventBus()
    recorder = EventRecorder(bus, LedgerAppender(ledger))
    sessions, tokens = SqlSessionStore(engine), SqlTokenStore(engine)
    gate = PolicyGate(None)
    manager = SessionManager(
        store=sessions,
        backend=None,  # type: ignore[arg-type]  # reads never reach a container
        launcher=None,  # type: ignore[arg-type]
        events=recorder,
        gate=gate,
        hooks=HookLog(),
        sessions_dir=settings.sessions_dir,
        default_image=settings.image,
    )
    clock = Clock()
    app = create_app(settings)
    async with httpx.AsyncClient() as idp_http, bus.subscribe() as queue:
        oidc = OidcValidator([config], idp_http, monotonic=clock)
        auth = Authenticator(enforced=True, tokens=ApiTokens(tokens, recorder), oidc=oidc)
        pipelines = PipelineService(
            store=SqlPipelineStore(engine), manager=manager, ledger=ledger, events=recorder
        )
        app.state.services = AppServices(auth, recorder, manager, ledger, gate, engine, pipelines)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://warden") as client:
            yield Harness(client, provider, clock, sessions, tokens, queue)
    ledger.close()
    engine.dispose()
