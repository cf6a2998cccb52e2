"""MCP resource subscriptions end to end: real ``warden serve``, real Docker, real Claude
Code, the scripted model; the SDK's own client over stdio (``warden mcp``, the 2025
``resources/subscribe``) and over /mcp (the 2026-07-28 ``subscriptions/listen``)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ResourceUpdated, Subscription
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer
from tests.integration.test_mcp import CLIENT, _ok, _wait
from tests.unit.mcp.support import Updates

pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


async def _updated(sub: Subscription, uri: str, seconds: float = 120) -> None:
    with anyio.fail_after(seconds):
        async for event in sub:
            if isinstance(event, ResourceUpdated) and event.uri == uri:
                return


def _bootstrap(env: dict[str, str], tenant: str) -> str:
    """An admin token of ``tenant``, made in the database (the server must be stopped)."""
    out = subprocess.run(
        [sys.executable, "-m", "runner.cli", "tokens", "bootstrap", "--name", f"mcp-{tenant}",
         "--tenant", tenant],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def _stdio(warden: WardenServer, secret: str) -> StdioServerParameters:
    env = {**os.environ, "WARDEN_SERVER": warden.url, "WARDEN_TOKEN": secret}
    return StdioServerParameters(command=sys.executable, args=["-m", "runner.cli", "mcp"], env=env)


@asynccontextmanager
async def _web(warden: WardenServer, secret: str) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {secret}"}
    async with (
        httpx2.AsyncClient(timeout=120, headers=headers) as http,
        Client(streamable_http_client(f"{warden.url}/mcp", http_client=http)) as web,
    ):
        yield web


@pytest.mark.docker
@pytest.mark.claude
def test_subscribers_hear_of_a_real_sessions_state_changes(
    start_warden: StartWarden, tmp_path: Path
) -> None:
    """With authentication on: subscribed over stdio, the session's move to
    permission_prompt arrives as resources/updated for its URI; after unsubscribe the
    approval's changes send nothing there, while a listen stream over /mcp hears of them.
    Another tenant's subscriber is refused the session ("not found") and, subscribed to
    the session list over stdio and over /mcp, hears nothing of it."""
    warden = start_warden(extra_env={"WARDEN_AUTH_ENABLED": "true"})
    warden.stop()
    mine, theirs = _bootstrap(warden.env, "default"), _bootstrap(warden.env, "other")
    warden.start()
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("print('hello')\n")

    async def story() -> None:
        updates, strangers = Updates(), Updates()
        async with (
            Client(_stdio(warden, mine), client_info=CLIENT, mode="legacy",
                   message_handler=updates) as client,
            Client(_stdio(warden, theirs), client_info=CLIENT, mode="legacy",
                   message_handler=strangers) as stranger,
            _web(warden, mine) as web,
            _web(warden, theirs) as web_stranger,
        ):  # fmt: skip
            sid = _ok(await client.call_tool("create_session", {"workspace": str(project)}))["id"]
            await _wait(client, sid, "idle")
            uri = f"warden://sessions/{sid}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                await client.subscribe_resource(uri)
                with pytest.raises(MCPError) as missing:
                    await client.subscribe_resource("warden://sessions/no-such-session")
                assert "not_found" in missing.value.message
                with pytest.raises(MCPError) as hidden:
                    await stranger.subscribe_resource(uri)
                assert "not_found" in hidden.value.message
                await stranger.subscribe_resource("warden://sessions")

            async with web_stranger.listen(resource_subscriptions=["warden://sessions"]) as other:
                text = "[[bash: touch from-mcp.txt]]"
                _ok(await client.call_tool("send_message", {"session_id": sid, "text": text}))
                await updates.wait_for(uri, seconds=120)
                await _wait(client, sid, "permission_prompt")
                read = await client.read_resource(uri)
                assert json.loads(read.contents[0].text)["state"] == "permission_prompt"  # type: ignore[union-attr]

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    await client.unsubscribe_resource(uri)
                updates.uris.clear()
                async with web.listen(resource_subscriptions=[uri]) as sub:
                    _ok(await client.call_tool("approve_permission", {"session_id": sid}))
                    await _updated(sub, uri)
                    await _wait(client, sid, "idle")
                    _ok(await client.call_tool("kill_session", {"session_id": sid}))
                    await _updated(sub, uri)  # session.ended
                await asyncio.sleep(2)  # time for a stray update to reach the others
                assert updates.uris == []
                assert strangers.uris == []
                with anyio.move_on_after(0.5) as quiet:
                    await other.__anext__()
                assert quiet.cancelled_caught

    asyncio.run(story())


@pytest.mark.docker
def test_shutdown_ends_open_listen_streams(start_warden: StartWarden) -> None:
    """SIGTERM with a listen stream open on /mcp: the stream ends gracefully (the client's
    loop just stops) and the server exits at once, not waiting on the stream for ever."""
    warden = start_warden()

    async def story() -> float:
        async with (
            httpx2.AsyncClient(timeout=120) as http,
            Client(streamable_http_client(f"{warden.url}/mcp", http_client=http)) as web,
            web.listen(resource_subscriptions=["warden://sessions"]) as sub,
        ):
            started = time.monotonic()
            stopping = asyncio.create_task(asyncio.to_thread(warden.stop))
            with anyio.fail_after(20):
                async for _ in sub:
                    pass  # no session changes: the loop ends only when the stream does
            await stopping
            return time.monotonic() - started

    took = asyncio.run(story())
    # uvicorn re-raises the SIGTERM once it has shut down; -9 would be stop()'s SIGKILL.
    assert warden.process is not None and warden.process.returncode == -15
    assert took < 15, took
