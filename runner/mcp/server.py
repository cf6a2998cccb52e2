"""``build_server(resolve)``: the Warden MCP server, for one transport.

``resolve`` turns a message's request context into the ``Warden`` acting for its caller
(the HTTP mount: the services with the request's authenticated actor; stdio: the CLI's
client). The middleware binds it around every message, so no handler can act for
anyone else, and a message it cannot resolve is refused before any handler runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server import MCPServer, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp_types import (
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    UnsubscribeRequestParams,
)

from runner import __version__
from runner.mcp.caller import bound
from runner.mcp.notify import Listen, Notifier, refuse_legacy
from runner.mcp.ports import Warden
from runner.mcp.resources import register_prompts, register_resources
from runner.mcp.tools import register_tools

Resolver = Callable[[ServerRequestContext[Any, Any]], Warden]

INSTRUCTIONS = (
    "Warden runs Claude Code sessions in network-less sandboxes, gated by policy and "
    "audited. Create a session, then wait_for_state instead of polling; approve or reject "
    "permission prompts; read the transcript and the patch; kill the session when done."
)


def build_server(
    resolve: Resolver, notifier: Notifier | None = None, listen: Listen | None = None
) -> MCPServer:
    """The server with every tool, resource and prompt.

    ``notifier`` serves 2025-era ``resources/subscribe`` on a connection that outlives
    its requests (stdio); without one (stateless HTTP) it is refused and not advertised.
    ``subscriptions/listen`` (2026-07-28) is served either way, by ``listen`` if given
    (so its owner can end the open streams: ``Listen.close``).
    """
    # WARNING: the SDK would otherwise set up INFO logging of every request for the process.
    server: MCPServer = MCPServer(
        name="warden",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
        # Not the SDK's listen handler: it would deliver any URI to anyone who asks.
        subscriptions=False,
    )

    async def bind_caller(
        ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        with bound(resolve(ctx)):
            return await call_next(ctx)

    if notifier is None:
        server.middleware.append(refuse_legacy)
    server.middleware.append(bind_caller)
    # The SDK has no public seam for these handlers on an MCPServer; the low-level
    # server's add_request_handler is its documented way to add one.
    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler(
        "subscriptions/listen", SubscriptionsListenRequestParams, listen or Listen()
    )
    if notifier is not None:
        lowlevel.add_request_handler(
            "resources/subscribe", SubscribeRequestParams, notifier.subscribe
        )
        lowlevel.add_request_handler(
            "resources/unsubscribe", UnsubscribeRequestParams, notifier.unsubscribe
        )
    register_tools(server)
    register_resources(server)
    register_prompts(server)
    return server


def client_name(ctx: ServerRequestContext[Any, Any]) -> str | None:
    """The name the MCP client gave in its handshake (for the audit log), if any."""
    params = ctx.session.client_params
    info = getattr(params, "client_info", None) if params is not None else None
    name = getattr(info, "name", None)
    return name if isinstance(name, str) else None
