"""The gateway socket's front door when a session may reach the network through its proxy.

The sandbox has one way out, its gateway socket, and one loopback forwarder to it; the
model API, the hook and the egress proxy all share them. The front reads each
connection's first line: a forward-proxy request (``CONNECT host:port`` or an absolute
``http://`` URL) goes to the session's :class:`EgressProxy`; anything else is passed,
byte for byte, to the gateway's own app on a socket of the controller's network
namespace (an abstract one, which a container with no network cannot name).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any

from runner.gateway.egress import EgressProxy
from runner.gateway.httphead import BadRequestError, RequestHead, is_proxy_line, read_head

log = logging.getLogger(__name__)

_CHUNK = 256 * 1024
_BUFFER = 1024 * 1024


ProxyRoute = Callable[[RequestHead], "EgressProxy | None"]


class GatewayFront:
    """Serves ``sock`` (listening, unix or TCP): proxy requests to ``proxy`` (one session's
    socket) or to the proxy ``route`` picks by the request's token (the shared gateway port
    of Pods), the rest to the app on ``app_address``."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        app_address: str,
        proxy: EgressProxy | None = None,
        route: ProxyRoute | None = None,
    ) -> None:
        self._sock = sock
        self._app_address = app_address
        self._proxy = proxy
        self._route = route
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    async def start(self) -> None:
        """Accept connections in the background."""
        # A large buffer: tunnels move bulk data through these readers (a head is still
        # bounded by read_head, at MAX_HEAD_BYTES).
        if self._sock.family == socket.AF_UNIX:
            self._server = await asyncio.start_unix_server(
                self._handle, sock=self._sock, limit=_BUFFER
            )
        else:
            self._server = await asyncio.start_server(self._handle, sock=self._sock, limit=_BUFFER)

    @property
    def port(self) -> int:
        """The TCP port listened on."""
        return int(self._sock.getsockname()[1])

    async def close(self) -> None:
        """Stop accepting, end the proxy's connections and every spliced one."""
        if self._server is not None:
            self._server.close()
            self._server = None
        self._closing = True
        if self._proxy is not None:
            await self._proxy.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2.0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            first = await reader.readline()
            if not first:
                return
            if is_proxy_line(first):
                try:
                    head = await read_head(reader, first)
                except BadRequestError as exc:
                    body = f"{exc}\n".encode()
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n")
                    writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                    return
                proxy = self._proxy or (self._route(head) if self._route else None)
                if proxy is None:
                    # No session's token: nothing is decided, nothing is said about why.
                    body = b"invalid or missing session token (Proxy-Authorization)\n"
                    writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                 b'Proxy-Authenticate: Basic realm="warden"\r\n'
                                 b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
                                 % (len(body), body))  # fmt: skip
                    return
                await proxy.serve(head, reader, writer)
            else:
                await self._splice(first, reader, writer)
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass  # a client that went away or sent a line longer than any head
        except asyncio.CancelledError:
            # Cut short by close(): the connection simply ends. (Re-raising would make
            # asyncio's stream callback log the cancelled task as an error.)
            if not self._closing:
                raise
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _splice(
        self, first: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        app_reader, app_writer = await asyncio.open_unix_connection(
            self._app_address, limit=_BUFFER
        )
        try:
            app_writer.write(first)
            up = asyncio.create_task(_copy(reader, app_writer))
            down = asyncio.create_task(_copy(app_reader, writer))
            try:
                await down  # the app's side ends the exchange (a streamed reply included)
            finally:
                up.cancel()
                await asyncio.gather(up, return_exceptions=True)
        finally:
            app_writer.close()
            with contextlib.suppress(Exception):
                await app_writer.wait_closed()


async def _copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while chunk := await src.read(_CHUNK):
            dst.write(chunk)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()


def abstract_listener(name: str) -> socket.socket:
    """A listening unix socket in the abstract namespace of this network namespace."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind("\0" + name)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock
