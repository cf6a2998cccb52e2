"""The client against the real app in-process (httpx's ASGI transport), over SQLite and
the in-memory sandbox played by ``FakeClaude``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from runner.auth.authenticator import Authenticator
from runner.auth.roles import GLOBAL_ADMIN, effective_roles
from runner.auth.tokens import ApiTokens
from runner.client import AsyncWardenClient
from runner.core import Actor, SessionState
from runner.sandbox.memory import MemoryBackend
from runner.settings import Settings
from runner.store.tokens import SqlTokenStore
from tests.offline_app import OfflineServices, offline_app
from tests.unit.sessions.fake_claude import FakeClaude

ROOT = Actor("root", "default", effective_roles([GLOBAL_ADMIN]))


@dataclass
class World:
    app: Any
    services: OfflineServices
    work: Path

    def client(self, token: str | None = None) -> AsyncWardenClient:
        """A client of the app in-process, as ``token`` (None: anonymous)."""
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        return AsyncWardenClient("http://warden", token, transport=transport)

    async def enforce_auth(self) -> None:
        """Require credentials from here on (API tokens only)."""
        tokens = ApiTokens(SqlTokenStore(self.services.engine), self.services.recorder)
        self.services.auth = Authenticator(enforced=True, tokens=tokens)

    async def token(self, *roles: str, tenant: str = "default") -> str:
        """A fresh API token's secret, holding ``roles``."""
        _, secret = await self.services.auth.tokens.create(
            ROOT, name=f"t-{time.monotonic_ns()}", roles=roles, expires_in_days=1, tenant=tenant
        )
        return secret


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        workspace_roots=[tmp_path],
        delivery_seconds=0.9,
        idle_settle_seconds=0.1,
        transcript_poll_seconds=0.2,
        **overrides,
    )


@asynccontextmanager
async def world(tmp_path: Path, **overrides: Any) -> AsyncIterator[World]:
    """The app with its lifespan running, a work dir under its roots."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / "app.py").write_text("print('hi')\n")
    backend = MemoryBackend()
    FakeClaude(backend)
    async with offline_app(settings_for(tmp_path, **overrides), backend) as (app, services):
        yield World(app, services, work)


async def until_state(
    client: AsyncWardenClient, session_id: str, *states: SessionState, seconds: float = 10
) -> None:
    deadline = time.monotonic() + seconds
    while (await client.get_session(session_id)).state not in states:
        if time.monotonic() > deadline:
            raise AssertionError(f"session {session_id} never reached {states}")
        await asyncio.sleep(0.05)
