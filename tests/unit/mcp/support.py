"""The SDK's own MCP client against Warden's real app (uvicorn in-process, in-memory sandbox)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Implementation, ResourceUpdatedNotification

from runner.auth.authenticator import Authenticator
from runner.auth.roles import effective_roles
from runner.core import Actor
from tests.unit.events.support import Served

ADMIN = Actor("root", "default", effective_roles(["admin"]))
CLIENT = Implementation(name="mcp-test-client", version="1.0")


@asynccontextmanager
async def http_client(url: str, token: str | None = None) -> AsyncIterator[Client]:
    """An MCP client over streamable HTTP to ``url``/mcp, with a bearer token if given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        transport = streamable_http_client(f"{url}/mcp", http_client=http)
        async with Client(transport, client_info=CLIENT) as client:
            yield client


async def enforce(served: Served) -> None:
    """Authentication on, as with ``WARDEN_AUTH_ENABLED``."""
    services = served.services
    services.auth = Authenticator(enforced=True, tokens=services.auth.tokens)


async def token(served: Served, role: str, tenant: str = "default") -> str:
    actor = Actor("root", tenant, effective_roles(["admin"]))
    _, secret = await served.services.auth.tokens.create(
        actor, name=f"mcp-{role}-{tenant}", roles=[role], expires_in_days=1
    )
    return secret


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a call that must have succeeded."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    """The text of a call that must have failed as a tool error."""
    assert result.is_error, result.structured_content
    return " ".join(getattr(block, "text", "") for block in result.content)


def parsed(text: str) -> Any:
    return json.loads(text)


class Updates:
    """The ``notifications/resources/updated`` a 2025-era client received, by URI."""

    def __init__(self) -> None:
        self.uris: list[str] = []
        self._arrived = anyio.Event()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            self.uris.append(message.params.uri)
            self._arrived.set()

    async def wait_for(self, uri: str, seconds: float = 15) -> None:
        with anyio.fail_after(seconds):
            while uri not in self.uris:
                self._arrived = anyio.Event()
                await self._arrived.wait()
