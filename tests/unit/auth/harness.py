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

from runner.auth.authenticator import Authenticator
from runner.auth.config import IssuerConfig
from runner.auth.oidc import OidcValidator
from runner.auth.tokens import ApiTokens
from runner.events.bus import Event
from runner.settings import Settings
from runner.store.sessions import SqlSessionStore
from runner.store.tokens import SqlTokenStore
from tests.offline_app import OfflineServices, client_for, offline_app
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
class Harness:
    client: httpx.AsyncClient
    provider: OidcProvider
    clock: Clock
    sessions: SqlSessionStore
    tokens: SqlTokenStore
    queue: asyncio.Queue[Event]
    services: OfflineServices
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
    provider: OidcProvider,
    tmp_path: Path,
    *,
    config: IssuerConfig | None = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """The Warden API with authentication enforced, trusting ``provider``; ``overrides``
    are further settings."""
    config = config or issuer_config(provider)
    settings = Settings(data_dir=tmp_path / "data", auth_issuers=[config], **overrides)
    clock = Clock()
    async with (
        offline_app(settings) as (app, services),
        httpx.AsyncClient() as idp_http,
        services.bus.subscribe() as queue,
    ):
        oidc = OidcValidator([config], idp_http, monotonic=clock)
        tokens = SqlTokenStore(services.engine)
        services.auth = Authenticator(
            enforced=True, tokens=ApiTokens(tokens, services.recorder), oidc=oidc
        )
        async with client_for(app) as client:
            yield Harness(client, provider, clock, services.store, tokens, queue, services)
