"""One TCP listener for the gateways of every session that runs off this host (Pods).

A Docker sandbox reaches its gateway on a unix socket of its own. A Pod cannot: it
connects over the Pod network to the controller's gateway port (the only traffic its
NetworkPolicy allows), so one listener serves them all and routes each request by the
per-session token it carries (``x-api-key`` or ``Authorization: Bearer``) to that
session's app. A request with no known token never reaches a session.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import socket
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from runner.errors import WardenError
from runner.gateway.anthropic_errors import error_response
from runner.gateway.egress import EgressProxy, presented_proxy_token
from runner.gateway.front import GatewayFront, abstract_listener
from runner.gateway.httphead import RequestHead
from runner.gateway.server import Gateway
from runner.gateway.serving import BackgroundServer
from runner.gateway.usage import Usage

log = logging.getLogger(__name__)


def _key(token: str) -> bytes:
    # Looked up by digest: the table holds no token, and a lookup's timing says
    # nothing about how close a guess came.
    return hashlib.sha256(token.encode()).digest()


def presented_token(headers: list[tuple[bytes, bytes]]) -> str:
    """The token a request carries: ``x-api-key``, else a bearer token; "" if none."""
    found = {name.lower(): value.decode("latin-1") for name, value in headers}
    token = found.get(b"x-api-key", "")
    bearer = found.get(b"authorization", "")
    if not token and bearer.lower().startswith("bearer "):
        token = bearer[7:].strip()
    return token


class GatewayMux:
    """Routes requests to per-session apps by token; ``start`` listens on host:port.

    A front (``runner.gateway.front``) owns the port: forward-proxy requests go to the
    egress proxy of the session whose token their ``Proxy-Authorization`` carries, the
    rest to this app (on an abstract socket of the controller's own).
    """

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._routes: dict[bytes, ASGIApp] = {}
        self._proxies: dict[bytes, EgressProxy] = {}
        self._server: BackgroundServer | None = None
        self._front: GatewayFront | None = None

    def register(self, token: str, app: ASGIApp, proxy: EgressProxy | None = None) -> None:
        """Serve ``app`` (and ``proxy``, if any) to requests carrying ``token``."""
        if not token:
            raise ValueError("a session token must not be empty")
        self._routes[_key(token)] = app
        if proxy is not None:
            self._proxies[_key(token)] = proxy

    def unregister(self, token: str) -> None:
        """Stop serving the session: its token is refused from now on."""
        self._routes.pop(_key(token), None)
        self._proxies.pop(_key(token), None)

    def _proxy_for(self, head: RequestHead) -> EgressProxy | None:
        token = presented_proxy_token(head)
        return self._proxies.get(_key(token)) if token else None

    def __contains__(self, token: str) -> bool:
        return _key(token) in self._routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off; nothing else is served
        token = presented_token(list(scope.get("headers") or []))
        app = self._routes.get(_key(token)) if token else None
        if app is None:
            client: Any = scope.get("client") or ("?", 0)
            log.warning("gateway port: %s %s from %s with no known session token",
                        scope.get("method"), scope.get("path"), client[0])  # fmt: skip
            response = error_response(401, "invalid or missing session token (x-api-key)")
            await response(scope, receive, send)
            return
        await app(scope, receive, send)

    async def start(self) -> None:
        """Listen (the port session Pods are allowed to reach).

        Raises:
            WardenError: the port could not be bound.
        """
        try:
            listener = socket.create_server(
                (self._host, self._port),
                family=socket.AF_INET6 if ":" in self._host else socket.AF_INET,
            )
        except OSError as exc:
            raise WardenError(f"cannot listen on {self._host}:{self._port}: {exc}") from exc
        name = f"warden-mux-{secrets.token_hex(16)}"
        try:
            inner = abstract_listener(name)
        except OSError as exc:
            listener.close()
            raise WardenError(f"cannot listen for the gateway port's app: {exc}") from exc
        self._server = BackgroundServer(self, sock=inner)
        await self._server.start()
        self._front = GatewayFront(listener, app_address="\0" + name, route=self._proxy_for)
        await self._front.start()

    @property
    def port(self) -> int:
        """The bound port (useful when started with port 0)."""
        assert self._front is not None, "start the mux first"
        return self._front.port

    async def close(self) -> None:
        if self._front is not None:
            await self._front.close()
            self._front = None
        if self._server is not None:
            await self._server.close()
            self._server = None


class MuxedGateway:
    """A session's gateway served on the mux (for a Pod) instead of a socket of its own.

    ``app`` is what the session's token reaches (``provision.session_app``: the Pod's
    workspace and home, then the gateway's routes). Closing it refuses the token at once.
    """

    def __init__(
        self,
        gateway: Gateway,
        mux: GatewayMux,
        token: str,
        app: ASGIApp,
        proxy: EgressProxy | None = None,
    ) -> None:
        self._gateway = gateway
        self._mux = mux
        self._token = token
        self._app = app
        self._proxy = proxy

    @property
    def usage(self) -> Usage:
        return self._gateway.usage

    async def start(self) -> None:
        self._mux.register(self._token, self._app, self._proxy)

    async def close(self) -> None:
        self._mux.unregister(self._token)
        if self._proxy is not None:
            await self._proxy.close()
        await self._gateway.close()
