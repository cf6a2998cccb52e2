"""The head of an HTTP/1.x request as a forward proxy sees it (request line and headers)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

#: A head larger than this is refused: no client of a package index needs more.
MAX_HEAD_BYTES = 64 * 1024


class BadRequestError(Exception):
    """The client sent something that is not a proxy request we serve (answered 400)."""


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)

    @property
    def is_proxy_request(self) -> bool:
        """CONNECT, or a request in absolute form: meant for a forward proxy."""
        return self.method == "CONNECT" or self.target.lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class Destination:
    host: str
    port: int
    path: str | None  # None: a CONNECT tunnel


def is_proxy_line(line: bytes) -> bool:
    """Does this request line ask a forward proxy (so it is not for the gateway's own app)?"""
    parts = line.split(b" ", 2)
    if len(parts) < 2:
        return False
    return parts[0] == b"CONNECT" or parts[1].lower().startswith((b"http://", b"https://"))


async def read_head(reader: asyncio.StreamReader, first_line: bytes) -> RequestHead:
    """The rest of the head after ``first_line``.

    Raises:
        BadRequestError: malformed, or larger than ``MAX_HEAD_BYTES``.
    """
    size = len(first_line)
    lines: list[bytes] = []
    while True:
        line = await reader.readline()
        size += len(line)
        if size > MAX_HEAD_BYTES:
            raise BadRequestError("request head too large")
        if not line:
            raise BadRequestError("the connection closed inside the request head")
        if line in (b"\r\n", b"\n"):
            break
        lines.append(line)
    return parse_head(first_line, lines)


def parse_head(first_line: bytes, lines: list[bytes]) -> RequestHead:
    """A request head from its raw lines.

    Raises:
        BadRequestError: not ``METHOD TARGET HTTP/1.x`` or a header without a colon.
    """
    parts = first_line.decode("latin-1").strip().split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequestError("not an HTTP/1.x request line")
    headers: list[tuple[str, str]] = []
    for raw in lines:
        text = raw.decode("latin-1").rstrip("\r\n")
        name, sep, value = text.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequestError("malformed header line")
        headers.append((name, value.strip()))
    return RequestHead(parts[0].upper(), parts[1], parts[2], tuple(headers))


def destination(head: RequestHead) -> Destination:
    """Where the client wants to go.

    Raises:
        BadRequestError: a CONNECT target without a port, or an absolute URL that is
            not ``http://`` (``https://`` must come as CONNECT: the proxy does not speak TLS).
    """
    if head.method == "CONNECT":
        host, sep, port = head.target.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise BadRequestError("CONNECT needs host:port")
        return Destination(host.strip("[]"), _port(port), None)
    url = urlsplit(head.target)
    if url.scheme.lower() != "http" or not url.hostname:
        raise BadRequestError("only http:// URLs are proxied in plain form; use CONNECT for TLS")
    try:
        number = url.port or 80
    except ValueError as exc:
        raise BadRequestError("bad port in URL") from exc
    path = url.path or "/"
    return Destination(url.hostname, number, path + (f"?{url.query}" if url.query else ""))


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise BadRequestError("port out of range")
    return port
