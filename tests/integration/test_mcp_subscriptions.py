"""MCP resource subscriptions end to end: real ``warden serve``, real Docker, real Claude
Code, the scripted model; the SDK's own client over stdio (``warden mcp``, the 2025
``resources/subscribe``) and over /mcp (the 2026-07-28 ``subscriptions/listen``)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import warnings
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
from tests.integration.test_mcp import CLIENT, _ok, _wait
from tests.unit.mcp.support import Updates

pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


async def _updated(sub: Subscription, uri: str, seconds: float = 120) -> None:
    with anyio.fail_after(seconds):
        async for event in sub:
            if isinstance(event, ResourceUpdated) and event.uri == uri:
                return


@pytest.mark.docker
@pytest.mark.claude
def test_subscribers_hear_of_a_real_sessions_state_changes(
    start_warden: StartWarden, tmp_path: Path
) -> None:
    """Subscribed over stdio, the session's move to permission_prompt arrives as
    resources/updated for its URI; after unsubscribe, the approval's changes send nothing
    there, while a listen stream over /mcp hears of them; an unknown session is refused."""
    warden = start_warden()
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("print('hello')\n")
    env = {**os.environ, "WARDEN_SERVER": warden.url}
    stdio = StdioServerParameters(command=sys.executable, args=["-m", "runner.cli", "mcp"], env=env)

    async def story() -> None:
        updates = Updates()
        async with (
            Client(stdio, client_info=CLIENT, mode="legacy", message_handler=updates) as client,
            httpx2.AsyncClient(timeout=120) as http,
            Client(streamable_http_client(f"{warden.url}/mcp", http_client=http)) as web,
        ):
            sid = _ok(await client.call_tool("create_session", {"workspace": str(project)}))["id"]
            await _wait(client, sid, "idle")
            uri = f"warden://sessions/{sid}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                await client.subscribe_resource(uri)
                with pytest.raises(MCPError) as missing:
                    await client.subscribe_resource("warden://sessions/no-such-session")
            assert "not_found" in missing.value.message

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
            await asyncio.sleep(2)  # time for a stray update to reach the stdio client
            assert updates.uris == []

    asyncio.run(story())
