"""The egress proxy behind a real gateway socket, against real servers on loopback.

The only fake is the resolver (the process boundary to DNS), so a test decides what a
name resolves to, and when.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from runner.gateway.server import Gateway
from runner.policy import load_policy
from runner.services.egress import EgressSecrets, build_egress
from tests.fake_dns import ScriptedResolver

pytestmark = pytest.mark.anyio

TOKEN = "sess-token-egress-1"
AUTH = "Proxy-Authorization: Basic " + base64.b64encode(f"warden:{TOKEN}".encode()).decode()


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


class Events:
    """The proxy's events, as the ledger would get them."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, name: str, data: dict[str, Any]) -> None:
        self.seen.append((name, data))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [data for seen, data in self.seen if seen == name]


class Upstream:
    """A loopback TCP server: echoes tunnels; answers one HTTP request with what it got."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.readline()
        if first.startswith((b"GET ", b"POST ")):
            head = first
            while (line := await reader.readline()) not in (b"\r\n", b""):
                head += line
            self.requests.append(head)
            body = b"hello from upstream"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        else:
            writer.write(first)
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        await writer.drain()
        writer.close()


@asynccontextmanager
async def upstream(host: str = "127.0.0.1") -> AsyncIterator[tuple[Upstream, int]]:
    server_state = Upstream()
    server = await asyncio.start_server(server_state.handle, host, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield server_state, port
    finally:
        server.close()


@asynccontextmanager
async def proxied(
    policy_yaml: str,
    resolver: ScriptedResolver,
    events: Events,
    secrets_dir: Path | None = None,
) -> AsyncIterator[Path]:
    """A gateway whose socket also serves the policy's egress proxy; yields the socket."""
    with tempfile.TemporaryDirectory(prefix="eg") as tmp:
        path = Path(tmp) / "p.yaml"
        path.write_text(textwrap.dedent(policy_yaml), encoding="utf-8")
        rules = load_policy(path).network
        proxy = build_egress(
            rules, session_id="s1", token=TOKEN, resolver=resolver,
            secrets=EgressSecrets(secrets_dir), own_addresses=frozenset(), on_event=events,
        )  # fmt: skip
        assert proxy is not None
        socket_path = Path(tmp) / "gateway.sock"
        gateway = Gateway(session_id="s1", socket_path=socket_path, token=TOKEN,
                          upstream_url="http://127.0.0.1:9", upstream_key=None, egress=proxy,
                          on_event=events)  # fmt: skip
        await gateway.start()
        try:
            yield socket_path
        finally:
            await gateway.close()


async def exchange(socket_path: Path, request: str, payload: bytes = b"") -> bytes:
    """Send one raw request (and payload) through the socket; return everything read back."""
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    writer.write(request.encode() + payload)
    await writer.drain()
    if payload:
        writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


def policy(rules: str, extra: str = "") -> str:
    return f"version: 1\nname: net\nnetwork:\n  allow:\n{rules}\n{extra}"


def connect(host: str, port: int, auth: str = AUTH) -> str:
    return f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n\r\n"


async def test_tunnel_to_an_allowed_host_is_audited_with_bytes() -> None:
    """CONNECT to an allowed name is tunnelled; allowed and closed events carry rule and bytes."""
    events = Events()
    resolver = ScriptedResolver({"mirror.test": [["127.0.0.1"]]})
    async with upstream() as (_, port), proxied(
        policy(f"    - {{id: mirror, host: mirror.test, ports: [{port}], addresses: [127.0.0.1]}}"),
        resolver, events,
    ) as sock:  # fmt: skip
        reply = await exchange(sock, connect("mirror.test", port), b"ping-through-tunnel")
    assert reply.startswith(b"HTTP/1.1 200 Connection established\r\n\r\n")
    assert reply.endswith(b"ping-through-tunnel")
    allowed = events.named("egress.allowed")[0]
    assert allowed["rule"] == "mirror" and allowed["address"] == "127.0.0.1"
    closed = events.named("egress.closed")[0]
    assert closed["bytes_up"] == len(b"ping-through-tunnel") and closed["bytes_down"] > 0


async def test_host_not_in_policy_gets_403_and_a_denied_event() -> None:
    """A host no rule allows is refused by the proxy with 403, and nothing is resolved."""
    events = Events()
    resolver = ScriptedResolver({})
    async with proxied(policy("    - {id: a, host: a.test, ports: [443]}"), resolver, events) as s:
        reply = await exchange(s, connect("b.test", 443))
    assert reply.startswith(b"HTTP/1.1 403 ")
    assert events.named("egress.denied")[0]["rule"] == "network.default"
    assert resolver.asked == []


async def test_missing_or_wrong_token_gets_407() -> None:
    """A proxy request without the session token is refused before any decision."""
    events = Events()
    async with proxied(policy("    - {id: a, host: '*', ports: [443]}"), ScriptedResolver({}),
                       events) as s:  # fmt: skip
        reply = await exchange(s, connect("a.test", 443, auth="X-Other: 1"))
        wrong = "Proxy-Authorization: Bearer not-the-token"
        reply_wrong = await exchange(s, connect("a.test", 443, auth=wrong))
    assert reply.startswith(b"HTTP/1.1 407 ") and reply_wrong.startswith(b"HTTP/1.1 407 ")
    assert not events.named("egress.allowed")


async def test_rebinding_to_loopback_is_refused_on_the_next_connect() -> None:
    """A name that first resolves to a named address and then to 127.0.0.1 is refused then."""
    events = Events()
    resolver = ScriptedResolver({"rebind.test": [["127.0.0.2"], ["127.0.0.1"]]})
    async with upstream("127.0.0.2") as (_, port), proxied(
        policy(f"    - {{id: r, host: rebind.test, ports: [{port}], addresses: [127.0.0.2]}}"),
        resolver, events,
    ) as sock:  # fmt: skip
        first = await exchange(sock, connect("rebind.test", port), b"x")
        second = await exchange(sock, connect("rebind.test", port), b"x")
    assert first.startswith(b"HTTP/1.1 200 ")
    assert second.startswith(b"HTTP/1.1 403 ")
    denied = events.named("egress.denied")[0]
    assert denied["rule"] == "network.address" and denied["addresses"] == ["127.0.0.1"]


async def test_metadata_is_refused_even_when_everything_is_allowed() -> None:
    """With `*` allowed, 169.254.169.254 is refused, by address and by a name for it."""
    events = Events()
    resolver = ScriptedResolver({"meta.test": [["169.254.169.254"]]})
    rules = "    - {id: all, host: '*', ports: [80], addresses: [169.254.0.0/16]}"
    async with proxied(policy(rules), resolver, events) as sock:
        by_address = await exchange(sock, connect("169.254.169.254", 80))
        by_name = await exchange(
            sock, f"GET http://meta.test/latest/meta-data/ HTTP/1.1\r\n{AUTH}\r\n\r\n"
        )
    assert by_address.startswith(b"HTTP/1.1 403 ") and by_name.startswith(b"HTTP/1.1 403 ")
    assert all("metadata" in e["reason"] for e in events.named("egress.denied"))


@pytest.fixture()
def secrets_dir(tmp_path: Path) -> Path:
    """The controller's secrets directory, holding one token."""
    (tmp_path / "mirror-token").write_text("Bearer injected-secret-42\n")
    return tmp_path


async def test_plain_http_injects_the_credential_and_strips_the_token(secrets_dir: Path) -> None:
    """Plain HTTP goes upstream in origin form with the injected header, no proxy token."""
    events = Events()
    async with upstream() as (state, port), proxied(
        policy(f"    - {{id: idx, host: 127.0.0.1, ports: [{port}], methods: [GET],"
               " inject: {header: Authorization, secret: mirror-token}}"),
        ScriptedResolver({}), events, secrets_dir,
    ) as sock:  # fmt: skip
        request = (f"GET http://127.0.0.1:{port}/simple/ HTTP/1.1\r\nHost: x\r\n{AUTH}\r\n"
                   "Authorization: Bearer chosen-by-the-sandbox\r\n\r\n")  # fmt: skip
        reply = await exchange(sock, request)
        post = await exchange(sock, request.replace("GET ", "POST ", 1))
    assert reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(b"hello from upstream")
    sent = state.requests[0].decode()
    assert sent.startswith(f"GET /simple/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n")
    assert "Host: x" not in sent  # the client's own Host never goes upstream
    assert "Authorization: Bearer injected-secret-42" in sent
    assert "chosen-by-the-sandbox" not in sent and TOKEN not in sent
    assert post.startswith(b"HTTP/1.1 403 ")
    assert "injected-secret-42" not in repr(events.seen)


async def test_missing_secret_refuses_the_request() -> None:
    """A rule whose secret the controller lacks refuses rather than going out without it."""
    events = Events()
    rules = "    - {id: idx, host: 127.0.0.1, ports: [80], inject: {header: A, secret: none}}"
    async with proxied(policy(rules), ScriptedResolver({}), events) as sock:
        reply = await exchange(sock, f"GET http://127.0.0.1/ HTTP/1.1\r\n{AUTH}\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 403 ")
    assert events.named("egress.denied")[0]["rule"] == "network.inject"


async def test_budgets_refuse_further_connections() -> None:
    """Past the byte budget new connections get 403; past the rate, 429."""
    events = Events()
    resolver = ScriptedResolver({})
    async with upstream() as (_, port):
        rule = f"    - {{id: l, host: 127.0.0.1, ports: [{port}]}}"
        async with proxied(policy(rule, "  max_bytes: 10\n"), resolver, events) as sock:
            await exchange(sock, connect("127.0.0.1", port), b"0123456789abcdef")
            spent = await exchange(sock, connect("127.0.0.1", port), b"x")
        rate = "  max_connections_per_minute: 1\n"
        async with proxied(policy(rule, rate), resolver, events) as sock:
            await exchange(sock, connect("127.0.0.1", port), b"x")
            limited = await exchange(sock, connect("127.0.0.1", port), b"x")
    assert spent.startswith(b"HTTP/1.1 403 ") and limited.startswith(b"HTTP/1.1 429 ")
    rules = [e["rule"] for e in events.named("egress.denied")]
    assert rules == ["network.max_bytes", "network.max_connections_per_minute"]


async def test_gateway_routes_still_work_behind_the_front() -> None:
    """Requests for the gateway's own app pass through the front unchanged."""
    events = Events()
    async with proxied(policy("    - {id: a, host: a.test, ports: [443]}"), ScriptedResolver({}),
                       events) as sock:  # fmt: skip
        transport = httpx.AsyncHTTPTransport(uds=str(sock))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            ok = await client.post("/v1/hooks/stop", headers={"x-api-key": TOKEN}, json={})
            bad = await client.post("/v1/hooks/stop", json={})
    assert ok.status_code == 200 and bad.status_code == 401
    assert events.named("hook.stop")


def test_no_network_section_builds_no_proxy(tmp_path: Path) -> None:
    """A policy that allows nothing gets no proxy at all."""
    (tmp_path / "p.yaml").write_text("version: 1\nname: p\n")
    rules = load_policy(tmp_path / "p.yaml").network
    built = build_egress(rules, session_id="s", token=TOKEN, resolver=ScriptedResolver({}),
                         secrets=EgressSecrets(None), own_addresses=frozenset(),
                         on_event=Events())  # fmt: skip
    assert built is None


_: Callable[..., Any] = exchange
