"""Resource subscriptions, driven by the SDK's own client against the real app (in-memory
sandboxes): ``resources/subscribe`` over stdio (``warden mcp``, the 2025 handshake) and
``subscriptions/listen`` (2026-07-28) over stdio and over ``/mcp``."""

from __future__ import annotations

import asyncio
import json
import os
import sys
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

from audit.stores.base import EventFilter
from runner.mcp.notify import LEGACY_OVER_HTTP
from runner.sessions.runtime import SANDBOX_WORKDIR
from runner.sessions.transcript import transcript_path
from tests.unit.events.support import Served, serve, work_dir
from tests.unit.mcp.support import CLIENT, Updates, enforce, ok, token

pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


@asynccontextmanager
async def stdio(
    url: str, secret: str | None = None, *, mode: str = "auto", updates: Updates | None = None
) -> AsyncIterator[Client]:
    env = {**os.environ, "WARDEN_SERVER": url}
    env.pop("WARDEN_TOKEN", None)
    if secret:
        env["WARDEN_TOKEN"] = secret
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "runner.cli", "mcp"], env=env
    )
    async with Client(params, client_info=CLIENT, mode=mode, message_handler=updates) as client:
        yield client


@asynccontextmanager
async def http(url: str, secret: str | None = None, *, mode: str = "auto") -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as transport_http:
        transport = streamable_http_client(f"{url}/mcp", http_client=transport_http)
        async with Client(transport, client_info=CLIENT, mode=mode) as client:
            yield client


def write_turn(served: Served, session_id: str, role: str, text: str) -> None:
    home = served.services.manager.paths(session_id).home
    path = transcript_path(home, SANDBOX_WORKDIR, session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {"type": role, "uuid": f"u-{text}", "message": {"role": role, "content": text}}
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")


async def _idle_session(client: Client, served: Served, root: Path) -> str:
    sid = ok(await client.call_tool("create_session", {"workspace": str(work_dir(root))}))["id"]
    await _wait(client, sid, "idle")
    return str(sid)


async def _wait(client: Client, sid: str, state: str) -> None:
    args = {"session_id": sid, "states": [state], "timeout_seconds": 20}
    assert ok(await client.call_tool("wait_for_state", args))["state"] == state


async def _next_update(sub: Subscription, seconds: float = 15) -> str:
    with anyio.fail_after(seconds):
        event = await sub.__anext__()
    assert isinstance(event, ResourceUpdated)
    return event.uri


def test_resources_subscribe_over_stdio_notifies_until_unsubscribed(tmp_path: Path) -> None:
    """2025 handshake: subscribe to a session → its state change arrives as
    ``notifications/resources/updated`` for its URI (and its pane); after unsubscribe,
    another change sends nothing; an unknown session or a non-session URI is refused."""

    async def scenario() -> None:
        updates = Updates()
        async with (
            serve(tmp_path) as served,
            stdio(served.url, mode="legacy", updates=updates) as client,
        ):
            caps = client.server_capabilities
            assert caps is not None and caps.resources is not None
            assert caps.resources.subscribe is True
            sid = await _idle_session(client, served, tmp_path)
            uri = f"warden://sessions/{sid}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                await client.subscribe_resource(uri)
                await client.subscribe_resource(f"{uri}/pane")
            ok(await client.call_tool("send_message", {"session_id": sid, "text": "[[bash: ls]]"}))
            await updates.wait_for(uri)
            await updates.wait_for(f"{uri}/pane")
            await _wait(client, sid, "permission_prompt")
            assert set(updates.uris) == {uri, f"{uri}/pane"}  # not the list: not subscribed

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                await client.unsubscribe_resource(uri)
                await client.unsubscribe_resource(f"{uri}/pane")
            updates.uris.clear()
            ok(await client.call_tool("approve_permission", {"session_id": sid}))
            await _wait(client, sid, "idle")
            await asyncio.sleep(1.0)  # time for a stray update to arrive
            assert updates.uris == []

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                with pytest.raises(MCPError) as missing:
                    await client.subscribe_resource("warden://sessions/no-such-session")
                assert "not_found" in missing.value.message
                with pytest.raises(MCPError) as health:
                    await client.subscribe_resource("warden://health")
                assert "sends no updates" in health.value.message

    asyncio.run(scenario())


def test_listen_over_stdio_streams_updates_until_closed(tmp_path: Path) -> None:
    """2026-07-28: a listen stream for the session list and one session's transcript gets
    the state change (list) and the new turn (transcript), and refuses an unknown one."""

    async def scenario() -> None:
        async with serve(tmp_path) as served, stdio(served.url) as client:
            sid = await _idle_session(client, served, tmp_path)
            uris = ["warden://sessions", f"warden://sessions/{sid}/transcript"]
            async with client.listen(resource_subscriptions=uris) as sub:
                assert sorted(sub.honored.resource_subscriptions or []) == sorted(uris)
                # The fake Claude Code writes no transcript: its side of the boundary is
                # a file, so the test writes the turn Claude Code would.
                write_turn(served, sid, "user", "hello")
                ok(await client.call_tool("send_message", {"session_id": sid, "text": "hello"}))
                seen = {await _next_update(sub)}
                while len(seen) < 2:
                    seen.add(await _next_update(sub))
                assert seen == set(uris)
            with pytest.raises(MCPError) as missing:
                async with client.listen(resource_subscriptions=["warden://sessions/nope"]):
                    pass
            assert "not_found" in missing.value.message

    asyncio.run(scenario())


def test_listen_over_http_keeps_to_the_callers_tenant(tmp_path: Path) -> None:
    """Over /mcp (stateless): a viewer's stream on the session list hears of its own
    tenant's session; another tenant's viewer hears nothing of it, and subscribing to it
    by id is "not found"; a 2025-era subscribe is refused, and not advertised, saying why."""

    async def scenario() -> None:
        async with serve(tmp_path) as served:
            await enforce(served)
            operator = await token(served, "operator")
            viewer = await token(served, "viewer")
            stranger = await token(served, "viewer", tenant="other")
            async with (
                http(served.url, operator) as acting,
                http(served.url, viewer) as same,
                http(served.url, stranger) as other,
            ):
                sid = await _idle_session(acting, served, tmp_path)
                with pytest.raises(MCPError) as hidden:
                    async with other.listen(resource_subscriptions=[f"warden://sessions/{sid}"]):
                        pass
                assert "not_found" in hidden.value.message
                async with (
                    same.listen(
                        resource_subscriptions=["warden://sessions", f"warden://sessions/{sid}"]
                    ) as mine,
                    other.listen(resource_subscriptions=["warden://sessions"]) as theirs,
                ):
                    text = "[[bash: ls]]"
                    ok(await acting.call_tool("send_message", {"session_id": sid, "text": text}))
                    seen = {await _next_update(mine)}
                    while len(seen) < 2:
                        seen.add(await _next_update(mine))
                    assert seen == {"warden://sessions", f"warden://sessions/{sid}"}
                    with anyio.move_on_after(1.5) as quiet:
                        await theirs.__anext__()
                    assert quiet.cancelled_caught  # nothing about another tenant's session
                # Opening a stream is audited as the MCP call it is, naming client and subject.
                page = await asyncio.to_thread(
                    served.services.ledger.query, EventFilter(type="mcp.call"), limit=500
                )
                opened = [e.event for e in page.entries if e.event.data["operation"] == "subscribe"]
                assert {(e.tenant, e.data["client"]) for e in opened} == {
                    ("default", CLIENT.name),
                    ("other", CLIENT.name),
                }

            async with http(served.url, viewer, mode="legacy") as legacy:
                caps = legacy.server_capabilities
                assert caps is not None and caps.resources is not None
                assert not caps.resources.subscribe
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    with pytest.raises(MCPError) as refused:
                        await legacy.subscribe_resource(f"warden://sessions/{sid}")
                assert refused.value.message == LEGACY_OVER_HTTP

    asyncio.run(scenario())


def test_resources_subscribe_over_stdio_keeps_to_the_tokens_tenant(tmp_path: Path) -> None:
    """``warden mcp`` with another tenant's token: subscribing to the session by id is
    "not found", and its list subscription hears nothing of the session's changes, while
    the same tenant's viewer, subscribed the same way, does."""

    async def scenario() -> None:
        async with serve(tmp_path) as served:
            await enforce(served)
            operator = await token(served, "operator")
            viewer = await token(served, "viewer")
            stranger = await token(served, "viewer", tenant="other")
            mine, theirs = Updates(), Updates()
            async with (
                http(served.url, operator) as acting,
                stdio(served.url, viewer, mode="legacy", updates=mine) as same,
                stdio(served.url, stranger, mode="legacy", updates=theirs) as other,
            ):
                sid = await _idle_session(acting, served, tmp_path)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    with pytest.raises(MCPError) as hidden:
                        await other.subscribe_resource(f"warden://sessions/{sid}")
                    assert "not_found" in hidden.value.message
                    await other.subscribe_resource("warden://sessions")
                    await same.subscribe_resource("warden://sessions")
                text = "[[bash: ls]]"
                ok(await acting.call_tool("send_message", {"session_id": sid, "text": text}))
                await mine.wait_for("warden://sessions")
                await _wait(acting, sid, "permission_prompt")
                await asyncio.sleep(1.0)  # the stranger's stream had the same time
                assert theirs.uris == []

    asyncio.run(scenario())
