"""A session whose policy allows egress: its gateway socket also serves the audited proxy.

The services come from ``build_services`` (real store, ledger, gateways on unix sockets);
the container runtime is the ``MemoryBackend``, so the test stands where the sandbox's
loopback forwarder would and speaks to the session's own gateway socket.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from audit.stores.base import EventFilter
from runner.core import Actor
from runner.policy import shipped_policies_dir
from runner.sandbox.memory import MemoryBackend
from runner.services import Services, build_services
from runner.sessions.requests import SessionRequest
from runner.settings import Settings
from tests.mounts import unmount_under
from tests.unit.sessions.fake_claude import FakeClaude

ALICE = Actor("alice", "default", frozenset({"operator", "approver", "viewer"}))


def _policies(root: Path, port: int) -> Path:
    """The shipped default plus ``net``: the default with one loopback server allowed."""
    directory = root / "policies"
    directory.mkdir()
    default = (shipped_policies_dir() / "default.yaml").read_text()
    (directory / "default.yaml").write_text(default)
    net = default.replace("name: default", "name: net", 1)
    net += f"network:\n  allow:\n    - {{id: echo, host: 127.0.0.1, ports: [{port}]}}\n"
    (directory / "net.yaml").write_text(net)
    return directory


@asynccontextmanager
async def _services(root: Path, backend: MemoryBackend, port: int) -> AsyncIterator[Services]:
    settings = Settings(
        data_dir=root / "data", workspace_roots=[root], policies_dir=_policies(root, port),
        terminal_cols=80, terminal_rows=24, delivery_seconds=0.9, idle_settle_seconds=0.1,
    )  # fmt: skip
    services = await build_services(settings, backend=backend)
    try:
        await services.start()
        yield services
    finally:
        await services.close()
        unmount_under(root)


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(65536):
        writer.write(chunk)
        await writer.drain()
    writer.close()


async def _tunnel(socket_path: Path, token: str, target: str, payload: bytes) -> bytes:
    auth = base64.b64encode(f"warden:{token}".encode()).decode()
    # A deep test directory passes sun_path's 108 bytes: connect through a directory fd.
    dir_fd = os.open(socket_path.parent, os.O_RDONLY | os.O_DIRECTORY)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(f"/proc/self/fd/{dir_fd}/{socket_path.name}")
    finally:
        os.close(dir_fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    writer.write(
        f"CONNECT {target} HTTP/1.1\r\nProxy-Authorization: Basic {auth}\r\n\r\n".encode() + payload
    )
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


async def _started(services: Services, session_id: str) -> None:
    for _ in range(500):
        page = services.ledger.query(EventFilter(session=session_id, type="container.started"))
        if page.entries:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the session never started")


def _work(root: Path, name: str = "proj") -> Path:
    work = root / name
    work.mkdir(exist_ok=True)
    (work / "app.py").write_text("print('hi')\n")
    return work


def test_egress_policy_proxies_through_the_gateway_socket_and_audits(tmp_path: Path) -> None:
    """Allowed tunnels work through the session's socket; others get 403; both in the ledger;
    the sandbox's environment names the proxy, a session without egress gets none."""

    async def scenario() -> None:
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        backend = MemoryBackend()
        FakeClaude(backend)
        async with _services(tmp_path, backend, port) as services:
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), policy="net"), ALICE
            )
            await _started(services, record.id)
            plain, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path, "other"))), ALICE
            )
            await _started(services, plain.id)
            sandbox = next(s for s in backend.sandboxes.values() if s.spec.session_id == record.id)
            other = next(s for s in backend.sandboxes.values() if s.spec.session_id == plain.id)
            assert sandbox.spec.egress and not other.spec.egress
            socket_path = sandbox.spec.run_dir / "gateway.sock"
            token = sandbox.spec.token
            ok = await _tunnel(socket_path, token, f"127.0.0.1:{port}", b"through")
            refused = await _tunnel(socket_path, token, "127.0.0.1:1", b"")
            # No proxy exists for a session whose policy allows nothing.
            none = await _tunnel(other.spec.run_dir / "gateway.sock", other.spec.token,
                                 f"127.0.0.1:{port}", b"")  # fmt: skip
            assert ok.startswith(b"HTTP/1.1 200 ") and ok.endswith(b"through")
            assert refused.startswith(b"HTTP/1.1 403 ")
            assert not none.startswith(b"HTTP/1.1 200 ")

            async def closed() -> bool:
                page = services.ledger.query(EventFilter(session=record.id, type="egress.closed"))
                return bool(page.entries)

            for _ in range(250):
                if await closed():
                    break
                await asyncio.sleep(0.02)
            events = services.ledger.query(EventFilter(session=record.id)).entries
            egress = [(e.event.type, dict(e.event.data)) for e in events
                      if e.event.type.startswith("egress.")]  # fmt: skip
            kinds = {kind: data for kind, data in egress}
            assert kinds["egress.allowed"]["rule"] == "echo"
            assert kinds["egress.closed"]["bytes_up"] == len(b"through")
            assert kinds["egress.denied"]["rule"] == "network.default"
        server.close()

    asyncio.run(scenario())
