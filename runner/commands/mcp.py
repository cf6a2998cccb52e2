"""``warden mcp``: the MCP server over stdio, for Claude Code, Claude Desktop and others.

It acts on a running Warden server, as the token given, through the REST API: the
server's authentication, roles, tenants and audit apply unchanged.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any

import anyio
import typer
from mcp.server import ServerRequestContext

from runner.commands.mcp_remote import RemoteWarden, remote_client
from runner.mcp.notify import Notifier
from runner.mcp.ports import Warden
from runner.mcp.server import build_server, client_name

app = typer.Typer()

Server = Annotated[str | None, typer.Option("--server", help="Warden URL (env WARDEN_SERVER).")]
Token = Annotated[str | None, typer.Option("--token", help="API token (env WARDEN_TOKEN).")]


@app.command()
def mcp(server: Server = None, token: Token = None) -> None:
    """Serve MCP on stdin/stdout, acting on a Warden server (docs/mcp.md)."""
    # stdout is the protocol: every log line goes to stderr.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    remote = RemoteWarden(remote_client(server, token))

    def resolve(ctx: ServerRequestContext[Any, Any]) -> Warden:
        remote.client_name = client_name(ctx)  # one client per stdio server
        return remote

    async def serve() -> None:
        # One client per process, so its resources/subscribe state lives here.
        notifier = Notifier()
        try:
            async with notifier.running():
                await build_server(resolve, notifier).run_stdio_async()
        finally:
            await remote.aclose()

    anyio.run(serve)
