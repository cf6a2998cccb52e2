"""``/mcp``: the MCP server over streamable HTTP, behind the REST API's authentication.

Every request is authenticated exactly as a ``/v1`` request is (bearer OIDC token or
API token, refusals audited); each tool then checks the role its REST route needs, in
the caller's tenant (``runner.mcp.local``). The transport is stateless: no MCP session
outlives its request, so there is nothing another caller could pick up by its id.
Resource updates therefore go out only on a ``subscriptions/listen`` stream (itself one
authenticated request); the 2025 ``resources/subscribe`` is refused (``runner.mcp.notify``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from mcp.server import ServerRequestContext
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from runner.api.context import SERVICES
from runner.api.security import LOCAL_ACTOR, audit_refusal
from runner.core import Actor
from runner.errors import AuthenticationError, AuthorizationError, WardenError
from runner.mcp.local import LocalWarden
from runner.mcp.notify import Listen
from runner.mcp.ports import Warden
from runner.mcp.server import build_server, client_name
from runner.services import Services

PATH = "/mcp"
_ACTOR = "warden.actor"
_SERVICES = "warden.services"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class McpEndpoint:
    """The ASGI app behind ``/mcp``; ``running()`` must wrap the app's lifespan."""

    def __init__(self) -> None:
        self.listen = Listen()
        self.server = build_server(self._resolve, listen=self.listen)
        # The SDK's own Host/Origin allowlist is replaced by ours (``_is_local_origin``):
        # it is needed only when no credentials are asked for, and then it is enforced.
        self.server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.server.session_manager.run():
            yield

    def drain(self) -> None:
        """End the open ``subscriptions/listen`` streams, before a shutdown waits for them."""
        self.listen.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        services: Services = scope["state"][SERVICES]
        try:
            actor = await self._authenticate(request, services)
        except (AuthenticationError, AuthorizationError) as exc:
            status = 401 if isinstance(exc, AuthenticationError) else 403
            await _refusal(status, exc)(scope, receive, send)
            return
        scope[_ACTOR] = actor
        scope[_SERVICES] = services
        await self.server.session_manager.handle_request(scope, receive, send)

    async def _authenticate(self, request: Request, services: Services) -> Actor:
        auth = services.auth
        if not auth.enforced:
            # No credentials are asked for, so the server listens on loopback only; a web
            # page must not reach it through a rebound DNS name (it would act as the
            # local user, who holds every role).
            if not _is_local_origin(request):
                raise AuthorizationError(
                    "with authentication off, /mcp answers only loopback hosts and origins",
                    details={"reason": "non_local_origin"},
                )
            return LOCAL_ACTOR
        try:
            # The header only, never the dashboard's session cookie: a browser sends a
            # cookie on its own, and MCP requests carry no CSRF token to pair it with.
            return await auth.authenticate(request.headers.get("authorization"))
        except (AuthenticationError, AuthorizationError) as exc:
            await audit_refusal(request, exc)
            raise

    def _resolve(self, ctx: ServerRequestContext[Any, Any]) -> Warden:
        request = ctx.request
        scope = getattr(request, "scope", None)
        if not isinstance(scope, dict) or _ACTOR not in scope:
            # Fail closed: a message that did not come through __call__ has no identity.
            raise AuthenticationError("this MCP message carries no authenticated caller")
        return LocalWarden(scope[_SERVICES], scope[_ACTOR], client=client_name(ctx))


def _is_local_origin(request: Request) -> bool:
    host = request.url.hostname or ""
    origin = request.headers.get("origin")
    origin_host = urlsplit(origin).hostname if origin else None
    return host in _LOOPBACK and (origin_host is None or origin_host in _LOOPBACK)


def _refusal(status: int, exc: WardenError) -> JSONResponse:
    body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)
