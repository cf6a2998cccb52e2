"""The real Warden app and its services over SQLite, in-process, with in-memory sandboxes.

For API tests whose requests never need a real container (auth, templates, memory,
validation): the services come from the project's own ``build_services`` (the same
wiring as ``warden serve``), with the ``MemoryBackend`` in place of the Docker engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from runner.app import create_app
from runner.sandbox.memory import MemoryBackend
from runner.services import Services, build_services
from runner.settings import Settings
from tests.mounts import unmount_under

#: The services the routers see (one ``build_services`` result).
OfflineServices = Services


@asynccontextmanager
async def offline_app(
    settings: Settings,
    backend: MemoryBackend | None = None,
    tracer_provider: TracerProvider | None = None,
) -> AsyncIterator[tuple[Any, Services]]:
    """The app, its lifespan running, over ``settings.data_dir``.

    Yields an ASGI app that hands each request the lifespan's state, as a server does
    (httpx's ASGI transport runs no lifespan), and the services; replace
    ``services.auth`` to enforce authentication.
    """
    services = await build_services(
        settings, backend=backend or MemoryBackend(), tracer_provider=tracer_provider
    )
    app = create_app(settings, services=services)
    try:
        async with app.router.lifespan_context(app) as state:
            yield _WithState(app, dict(state or {})), services
    finally:
        unmount_under(settings.data_dir)  # quota volumes of sessions left running


class _WithState:
    """The app, handing each request the lifespan state as uvicorn does."""

    def __init__(self, app: FastAPI, state: dict[str, Any]) -> None:
        self._app = app
        self._state = state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["state"] = dict(self._state)
        await self._app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)  # the FastAPI app's own API (routes, openapi…)


def client_for(app: FastAPI | Any) -> httpx.AsyncClient:
    """An HTTP client that calls the app in-process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://warden")


def run_with_fake_claude(
    settings: Settings, scenario: Callable[[httpx.AsyncClient, Services], Awaitable[None]]
) -> None:
    """Run ``scenario`` against the app over ``settings``, each sandbox's Claude Code the
    in-memory ``FakeClaude``; the quota volumes are detached afterwards."""
    from tests.unit.sessions.fake_claude import FakeClaude

    async def main() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        async with offline_app(settings, backend) as (app, services), client_for(app) as client:
            await scenario(client, services)

    try:
        asyncio.run(main())
    finally:
        unmount_under(settings.data_dir.parent)
