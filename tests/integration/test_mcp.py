"""The MCP server end to end: real ``warden serve``, real Docker, real Claude Code, the
scripted model; the SDK's own client over streamable HTTP (/mcp) and over stdio
(``warden mcp`` as a subprocess)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Implementation

from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer

CLIENT = Implementation(name="mcp-e2e", version="1.0")


@asynccontextmanager
async def connect(transport: str, warden: WardenServer) -> AsyncIterator[Client]:
    if transport == "http":
        async with httpx2.AsyncClient(timeout=120) as http:
            streams = streamable_http_client(f"{warden.url}/mcp", http_client=http)
            async with Client(streams, client_info=CLIENT) as client:
                yield client
    else:
        env = {**os.environ, "WARDEN_SERVER": warden.url}
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "runner.cli", "mcp"], env=env
        )
        async with Client(params, client_info=CLIENT) as client:
            yield client


def _ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def _wait(client: Client, sid: str, *states: str, seconds: float = 150) -> dict[str, Any]:
    args = {"session_id": sid, "states": list(states), "timeout_seconds": seconds}
    session = _ok(await client.call_tool("wait_for_state", args))
    if session["state"] not in states:
        pane = _ok(await client.call_tool("get_pane", {"session_id": sid}))["text"]
        raise AssertionError(f"still {session['state']} after {seconds}s:\n{pane}")
    return session


@pytest.mark.docker
@pytest.mark.claude
@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_a_real_session_through_mcp(
    transport: str, start_warden: StartWarden, tmp_path: Path
) -> None:
    """create → wait idle → Bash prompt → wait permission_prompt → approve → the file is
    in the patch and the tool call in the transcript → kill, in a real sandbox."""
    warden = start_warden()
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("print('hello')\n")

    async def story() -> None:
        async with connect(transport, warden) as client:
            created = _ok(
                await client.call_tool(
                    "create_session", {"workspace": str(project), "prompt": "Say hello"}
                )
            )
            sid = created["id"]
            assert created["state"] == "starting"
            await _wait(client, sid, "idle")
            text = "[[bash: touch from-mcp.txt]]"
            _ok(await client.call_tool("send_message", {"session_id": sid, "text": text}))
            prompt = await _wait(client, sid, "permission_prompt")
            assert prompt["details"]["tool"] == "bash"
            assert prompt["details"]["command"] == "touch from-mcp.txt"
            _ok(await client.call_tool("approve_permission", {"session_id": sid}))
            await _wait(client, sid, "idle")

            uses: list[dict[str, Any]] = []
            for _ in range(50):  # Claude Code writes the transcript a moment after the screen
                page = _ok(await client.call_tool("read_transcript", {"session_id": sid}))
                uses = [u for turn in page["turns"] for u in turn["toolUses"]]
                if uses:
                    break
                await asyncio.sleep(0.3)
            assert any(u.get("input", {}).get("command") == "touch from-mcp.txt" for u in uses)
            assert page["turns"][0]["role"] == "user"

            patch = _ok(await client.call_tool("get_patch", {"session_id": sid}))["patch"]
            assert "from-mcp.txt" in patch
            killed = _ok(await client.call_tool("kill_session", {"session_id": sid}))
            assert killed["state"] == "exited"
            gone = await client.call_tool("send_message", {"session_id": sid, "text": "more"})
            assert gone.is_error

    asyncio.run(story())
    assert not (project / "from-mcp.txt").exists()  # copy mode: the host folder is untouched
