"""``warden mcp`` keeps its subscriptions across a dropped event stream: a TCP proxy
between it and the server (the network, the process boundary) cuts every connection and
refuses new ones for a while; what changed meanwhile still reaches the subscriber."""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from mcp.shared.exceptions import MCPDeprecationWarning

from tests.unit.events.support import serve
from tests.unit.mcp.support import Updates, http_client, ok
from tests.unit.mcp.test_notify import _idle_session, _wait, stdio


class Proxy:
    """Forwards loopback TCP to ``port``; ``cut()`` drops every connection and refuses
    new ones until ``mend()``."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._open = True
        self._writers: set[asyncio.StreamWriter] = set()
        self.url = ""

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            writer.close()
            return
        upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", self._port)
        self._writers |= {writer, upstream}
        try:
            await asyncio.gather(self._pipe(reader, upstream), self._pipe(upstream_reader, writer))
        finally:
            self._writers -= {writer, upstream}

    def cut(self) -> None:
        self._open = False
        for writer in list(self._writers):
            writer.transport.abort()

    def mend(self) -> None:
        self._open = True

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Proxy]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with server:
            yield self
            self.cut()


async def _settled(updates: Updates) -> None:
    """Until no update has arrived for a second (the last change's are all in), then none."""
    while True:
        seen = len(updates.uris)
        await asyncio.sleep(1.0)
        if len(updates.uris) == seen:
            updates.uris.clear()
            return


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
def test_updates_survive_a_dropped_event_stream(tmp_path: Path) -> None:
    """Cut before any event (no cursor): the subscriber is told to re-read once the stream
    is back. Cut after one (a cursor): the change made while cut is replayed from the
    ledger (Last-Event-ID) and its update arrives."""

    async def scenario() -> None:
        updates = Updates()
        async with serve(tmp_path) as served:
            port = urlsplit(served.url).port
            assert port is not None
            async with (
                Proxy(port).running() as proxy,
                http_client(served.url) as direct,
                stdio(proxy.url, mode="legacy", updates=updates) as client,
            ):
                sid = await _idle_session(direct, served, tmp_path)
                uri = f"warden://sessions/{sid}"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    await client.subscribe_resource(uri)

                for _ in range(2):  # once without a cursor, once with one
                    await _settled(updates)
                    proxy.cut()
                    text = "[[bash: ls]]"
                    ok(await direct.call_tool("send_message", {"session_id": sid, "text": text}))
                    await _wait(direct, sid, "permission_prompt")
                    await asyncio.sleep(1.5)  # the subprocess tries to resume, and is refused
                    assert updates.uris == []
                    proxy.mend()
                    await updates.wait_for(uri)
                    updates.uris.clear()
                    ok(await direct.call_tool("reject_permission", {"session_id": sid}))
                    await _wait(direct, sid, "idle")
                    await updates.wait_for(uri)  # live again: the cursor is set from here

    asyncio.run(scenario())
