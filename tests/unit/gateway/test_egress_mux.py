"""The shared gateway port of Pods also serves each session's egress proxy, by its token."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runner.gateway.mux import GatewayMux
from runner.policy import load_policy
from runner.services.egress import EgressSecrets, build_egress

pytestmark = pytest.mark.anyio

TOKEN = "pod-session-token-1"


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


class _NoDns:
    async def resolve(self, host: str) -> list[str]:
        return []


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(65536):
        writer.write(chunk)
        await writer.drain()
    writer.close()


async def _hello(_request: Request) -> JSONResponse:
    return JSONResponse({"app": "session"})


async def _connect(port: int, target: str, token: str) -> bytes:
    auth = base64.b64encode(f"warden:{token}".encode()).decode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"CONNECT {target} HTTP/1.1\r\nProxy-Authorization: Basic {auth}\r\n\r\nhi".encode()
    )
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


@pytest.fixture()
def policy_path(tmp_path: Path) -> Path:
    """Where the test writes its policy (once it knows the echo server's port)."""
    return tmp_path / "p.yaml"


async def test_mux_routes_proxy_requests_by_token(policy_path: Path) -> None:
    """CONNECT with a session's token is that session's proxy; any other token gets 407;
    ordinary requests still reach the session's app by x-api-key."""
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = echo.sockets[0].getsockname()[1]
    rule = f"    - {{id: e, host: 127.0.0.1, ports: [{port}]}}\n"
    text = f"version: 1\nname: p\nnetwork:\n  allow:\n{rule}"
    await asyncio.to_thread(policy_path.write_text, text)
    events: list[str] = []

    async def on_event(name: str, _data: dict[str, object]) -> None:
        events.append(name)

    proxy = build_egress(load_policy(policy_path).network, session_id="s", token=TOKEN,
                         resolver=_NoDns(), secrets=EgressSecrets(None),
                         own_addresses=frozenset(), on_event=on_event)  # fmt: skip
    mux = GatewayMux("127.0.0.1", 0)
    await mux.start()
    try:
        mux.register(TOKEN, Starlette(routes=[Route("/hello", _hello)]), proxy)
        through = await _connect(mux.port, f"127.0.0.1:{port}", TOKEN)
        stranger = await _connect(mux.port, f"127.0.0.1:{port}", "someone-else")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{mux.port}") as client:
            ok = await client.get("/hello", headers={"x-api-key": TOKEN})
            refused = await client.get("/hello")
        mux.unregister(TOKEN)
        gone = await _connect(mux.port, f"127.0.0.1:{port}", TOKEN)
    finally:
        await mux.close()
        echo.close()
    assert through.startswith(b"HTTP/1.1 200 ") and through.endswith(b"hi")
    assert stranger.startswith(b"HTTP/1.1 407 ") and gone.startswith(b"HTTP/1.1 407 ")
    assert ok.json() == {"app": "session"} and refused.status_code == 401
    assert "egress.allowed" in events
