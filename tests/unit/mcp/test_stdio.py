"""``warden mcp`` over stdio: a real subprocess, driven by the SDK's own client, acting on
a running server through its REST API as the token given."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from audit.stores.base import EventFilter
from tests.unit.events.support import free_port, serve, work_dir
from tests.unit.mcp.support import CLIENT, enforce, error_text, ok, token
from tests.unit.mcp.test_http import TOOLS


@asynccontextmanager
async def stdio_client(url: str, token: str | None = None) -> AsyncIterator[Client]:
    """``python -m runner.cli mcp`` as a subprocess; the server and token come from the
    CLI's settings (``WARDEN_SERVER``, ``WARDEN_TOKEN``), as for ``warden sessions``."""
    env = {**os.environ, "WARDEN_SERVER": url}
    env.pop("WARDEN_TOKEN", None)
    if token:
        env["WARDEN_TOKEN"] = token
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "runner.cli", "mcp"], env=env
    )
    async with Client(params, client_info=CLIENT) as client:
        yield client


def test_a_session_story_over_stdio(tmp_path: Path) -> None:
    """The subprocess lists every tool; create → wait idle → Bash prompt → approve →
    transcript → kill goes through the server's REST API."""

    async def scenario() -> None:
        async with serve(tmp_path) as served, stdio_client(served.url) as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            work = work_dir(tmp_path)
            sid = ok(await client.call_tool("create_session", {"workspace": str(work)}))["id"]
            waited = ok(
                await client.call_tool(
                    "wait_for_state", {"session_id": sid, "states": ["idle"], "timeout_seconds": 20}
                )
            )
            assert waited["state"] == "idle"
            ok(await client.call_tool("send_message", {"session_id": sid, "text": "[[bash: ls]]"}))
            prompt = ok(
                await client.call_tool(
                    "wait_for_state",
                    {"session_id": sid, "states": ["permission_prompt"], "timeout_seconds": 20},
                )
            )
            assert prompt["details"]["command"] == "ls"
            assert ok(await client.call_tool("approve_permission", {"session_id": sid}))["ok"]
            ok(await client.call_tool("wait_for_state", {"session_id": sid, "states": ["idle"]}))
            assert served.claude.prompts == ["[[bash: ls]]"]
            page = ok(await client.call_tool("read_transcript", {"session_id": sid}))
            assert page["nextBeforeId"] is None
            health = await client.read_resource("warden://health")
            assert '"status"' in health.contents[0].text  # type: ignore[union-attr]
            assert ok(await client.call_tool("kill_session", {"session_id": sid}))["state"] == (
                "exited"
            )
            ok(await client.call_tool("memory_set", {"key": "k:1", "value": [1, 2]}))
            assert ok(await client.call_tool("memory_get", {"key": "k:1"}))["value"] == [1, 2]
            assert ok(await client.call_tool("memory_delete", {"key": "k:1"}))["deleted"] == "k:1"
            assert ok(await client.call_tool("list_pipelines", {}))["pipelines"] == []
            slash = error_text(await client.call_tool("memory_get", {"key": "a/b"}))
            assert "key" in slash and "pattern" in slash
            gone = error_text(
                await client.call_tool("send_message", {"session_id": sid, "text": "hi"})
            )
            assert "conflict" in gone or "cannot" in gone
            # Each change made through the subprocess names the MCP client in the audit;
            # reads add nothing (REST records none).
            calls = await asyncio.to_thread(
                served.services.ledger.query, EventFilter(type="mcp.call"), limit=100
            )
            seen = [e.event.data for e in calls.entries]
            assert {d["client"] for d in seen} == {CLIENT.name}
            assert {d["transport"] for d in seen} == {"stdio"}
            operations = {d["operation"] for d in seen}
            assert {"POST /v1/sessions", "POST /v1/sessions/{session_id}/approve"} <= operations
            assert not any(op.startswith("GET ") for op in operations)
            approved = [
                e.event for e in calls.entries if e.event.data["operation"].endswith("/approve")
            ]
            assert [e.session for e in approved] == [sid]

    asyncio.run(scenario())


def test_a_viewer_token_over_stdio_cannot_approve(tmp_path: Path) -> None:
    """With the server enforcing authentication, the viewer's stdio server lists sessions,
    but approve_permission is refused with the REST 403 message; a bad token is refused."""

    async def scenario() -> None:
        async with serve(tmp_path) as served:
            await enforce(served)
            operator, viewer = await token(served, "operator"), await token(served, "viewer")
            async with stdio_client(served.url, operator) as client:
                sid = ok(
                    await client.call_tool(
                        "create_session",
                        {"workspace": str(work_dir(tmp_path)), "prompt": "[[bash: ls]]"},
                    )
                )["id"]
                ok(
                    await client.call_tool(
                        "wait_for_state", {"session_id": sid, "states": ["permission_prompt"]}
                    )
                )
            async with stdio_client(served.url, viewer) as client:
                listed = ok(await client.call_tool("list_sessions", {}))
                assert [s["id"] for s in listed["sessions"]] == [sid]
                refused = error_text(
                    await client.call_tool("approve_permission", {"session_id": sid})
                )
                assert "forbidden" in refused and "needs the approver role" in refused
            async with stdio_client(served.url, "wdn_not_a_token") as client:
                assert "unauthenticated" in error_text(await client.call_tool("list_sessions", {}))

    asyncio.run(scenario())


def test_an_unreachable_server_is_a_tool_error(tmp_path: Path) -> None:
    """No server at the URL: the tool says it cannot reach Warden there; no crash."""

    async def scenario() -> None:
        url = f"http://127.0.0.1:{free_port()}"
        async with stdio_client(url) as client:
            failed = error_text(await client.call_tool("list_sessions", {}))
            assert f"cannot reach Warden at {url}" in failed
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS

    asyncio.run(scenario())
