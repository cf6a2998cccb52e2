"""A session's egress proxy: CONNECT tunnels and plain HTTP, each decision audited.

It runs in the controller and is reached only through the session's gateway socket
(``runner.gateway.front``): the sandbox still has no network of its own. For every
request it authenticates the session token (``Proxy-Authorization``), checks the
budgets, asks the policy (``judge``) about the host and port (and, for plain HTTP,
method and path), resolves the name itself, checks the address it is about to connect
to (``Verdict.refuses``), and connects to that very address. No TLS is intercepted:
a tunnel is judged by host and port alone.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import ipaddress
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from runner.gateway.httphead import BadRequestError, Destination, RequestHead, destination
from runner.gateway.resolver import Resolver

log = logging.getLogger(__name__)

_CHUNK = 256 * 1024
_BUFFER = 1024 * 1024  # bulk data passes these readers
_CONNECT_TIMEOUT = 10.0
#: Headers of the client's that never go upstream: hop-by-hop ones, and the proxy's own
#: credentials (the session token must not leave the controller).
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authorization", "proxy-authenticate",
     "proxy-connection", "te", "trailer", "upgrade"}
)  # fmt: skip

BUDGET_BYTES_RULE = "network.max_bytes"
BUDGET_RATE_RULE = "network.max_connections_per_minute"
ADDRESS_RULE = "network.address"


@dataclass(frozen=True)
class Verdict:
    """The policy's answer for one destination.

    ``refuses(address)`` says why the proxy must not connect to a resolved address (None:
    it may); ``inject`` is a header (name, value) to add to plain-HTTP requests.
    """

    allowed: bool
    rule: str
    reason: str
    refuses: Callable[[str], str | None]
    inject: tuple[str, str] | None = None


JudgeFn = Callable[[str, int, str | None, str | None], Verdict]
EgressEventFn = Callable[[str, dict[str, Any]], Awaitable[None]]


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class EgressProxy:
    """One session's proxy; ``serve`` one client connection whose head was read."""

    def __init__(
        self,
        *,
        session_id: str,
        token: str,
        judge: JudgeFn,
        resolver: Resolver,
        on_event: EgressEventFn,
        max_bytes: int | None = None,
        max_connections_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not token:
            raise ValueError("the proxy needs a non-empty session token")
        self.session_id = session_id
        self._token = token.encode()
        self._judge = judge
        self._resolver = resolver
        self._on_event = on_event
        self._max_bytes = max_bytes
        self._rate = max_connections_per_minute
        self._clock = clock
        self._opened: deque[float] = deque()
        self._bytes = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def bytes_used(self) -> int:
        """Bytes both ways through this proxy so far."""
        return self._bytes

    async def serve(
        self, head: RequestHead, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Answer one proxy request (a tunnel, or one plain-HTTP exchange), then close."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(head, reader, writer)
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def close(self) -> None:
        """End every connection still open (the session is going away)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2.0)

    def authenticates(self, head: RequestHead) -> bool:
        """Does the request carry this session's token in ``Proxy-Authorization``?"""
        presented = presented_proxy_token(head)
        # Constant time, as the gateway's own check: no timing oracle on the token.
        return bool(presented) and hmac.compare_digest(presented.encode(), self._token)

    async def _serve(
        self, head: RequestHead, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if not self.authenticates(head):
            await self._emit("auth.failed", {"path": "egress-proxy", "presented": bool(
                presented_proxy_token(head))})  # fmt: skip
            await _answer(writer, 407, "invalid or missing session token (Proxy-Authorization)",
                          extra=[("Proxy-Authenticate", 'Basic realm="warden"')])  # fmt: skip
            return
        try:
            where = destination(head)
        except BadRequestError as exc:
            await _answer(writer, 400, str(exc))
            return
        method = None if where.path is None else head.method
        facts: dict[str, Any] = {"host": where.host, "port": where.port, "method": method,
                                 "path": where.path}  # fmt: skip
        try:
            verdict, address = await self._admit(where, method, facts)
        except _Refused as refusal:
            await _answer(writer, refusal.status, f"warden egress: {refusal.reason}")
            return
        except Exception:
            # The allow could not be audited: nothing leaves without its ledger line.
            log.exception("auditing an egress decision failed; refusing the connection")
            await _answer(writer, 503, "warden egress: the decision could not be audited")
            return
        await self._connect_and_pipe(head, where, verdict, address, facts, reader, writer)

    async def _admit(
        self, where: Destination, method: str | None, facts: dict[str, Any]
    ) -> tuple[Verdict, str]:
        """The verdict and the address to connect to; raises ``_Refused`` (audited)."""
        budget = self._budget_refusal()
        if budget is not None:
            rule, status, reason = budget
            await self._deny(facts, rule, reason)
            raise _Refused(status, reason)
        verdict = self._judge(where.host, where.port, method, where.path)
        if not verdict.allowed:
            await self._deny(facts, verdict.rule, verdict.reason)
            raise _Refused(403, f"{verdict.rule}: {verdict.reason}")
        addresses = await self._addresses(where.host)
        reasons: list[str] = []
        for address in addresses:
            why = verdict.refuses(address)
            if why is None:
                self._opened.append(self._clock())
                await self._emit_strict("egress.allowed", {
                    **facts, "address": address, "rule": verdict.rule, "reason": verdict.reason,
                    "injected": verdict.inject[0] if verdict.inject else None})  # fmt: skip
                return verdict, address
            reasons.append(why)
        reason = "; ".join(reasons) if reasons else f"{where.host} does not resolve"
        await self._deny({**facts, "addresses": addresses}, ADDRESS_RULE, reason,
                         allowed_by=verdict.rule)  # fmt: skip
        raise _Refused(403, f"{ADDRESS_RULE}: {reason}")

    async def _addresses(self, host: str) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]  # an address is not looked up
        except ValueError:
            return await self._resolver.resolve(host)

    def _budget_refusal(self) -> tuple[str, int, str] | None:
        if self._max_bytes is not None and self._bytes >= self._max_bytes:
            spent = f"{self._bytes} of {self._max_bytes} bytes"
            return BUDGET_BYTES_RULE, 403, f"the session's egress budget is spent ({spent})"
        now = self._clock()
        while self._opened and now - self._opened[0] >= 60.0:
            self._opened.popleft()
        if self._rate is not None and len(self._opened) >= self._rate:
            reason = f"more than {self._rate} connections in a minute"
            return BUDGET_RATE_RULE, 429, reason
        return None

    async def _connect_and_pipe(
        self,
        head: RequestHead,
        where: Destination,
        verdict: Verdict,
        address: str,
        facts: dict[str, Any],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        started = self._clock()
        counts = {"up": 0, "down": 0}
        error: str | None = None
        try:
            try:
                async with asyncio.timeout(_CONNECT_TIMEOUT):
                    up_reader, up_writer = await asyncio.open_connection(
                        address, where.port, limit=_BUFFER
                    )
            except (OSError, TimeoutError) as exc:
                error = f"connect to {address}:{where.port} failed: {exc or 'timeout'}"
                await _answer(writer, 502, f"warden egress: {error}")
                return
            try:
                if where.path is None:
                    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    await writer.drain()
                else:
                    up_writer.write(_upstream_head(head, where, verdict.inject))
                error = await self._pipe(reader, writer, up_reader, up_writer, counts)
            finally:
                up_writer.close()
                with contextlib.suppress(Exception):
                    await up_writer.wait_closed()
        finally:
            await self._emit("egress.closed", {
                **facts, "address": address, "rule": verdict.rule, "bytes_up": counts["up"],
                "bytes_down": counts["down"], "seconds": round(self._clock() - started, 3),
                "error": error})  # fmt: skip

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        counts: dict[str, int],
    ) -> str | None:
        """Copy both ways until the upstream is done (or the budget is spent)."""
        over: list[str] = []

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter, key: str) -> None:
            with contextlib.suppress(ConnectionError):
                while chunk := await src.read(_CHUNK):
                    counts[key] += len(chunk)
                    self._bytes += len(chunk)
                    if self._max_bytes is not None and self._bytes > self._max_bytes:
                        over.append(f"egress budget of {self._max_bytes} bytes spent")
                        return
                    dst.write(chunk)
                    await dst.drain()
                if dst.can_write_eof():
                    dst.write_eof()

        up = asyncio.create_task(copy(reader, up_writer, "up"))
        down = asyncio.create_task(copy(up_reader, writer, "down"))
        try:
            # The exchange is over once the upstream stops sending (or either side breaks
            # the budget); a client that keeps its end open does not hold the tunnel.
            await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
            if up.done() and not over:
                await down
        finally:
            for task in (up, down):
                task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
        return over[0] if over else None

    async def _deny(
        self, facts: dict[str, Any], rule: str, reason: str, allowed_by: str | None = None
    ) -> None:
        data = {**facts, "rule": rule, "reason": reason}
        if allowed_by is not None:
            data["allowed_by"] = allowed_by
        await self._emit("egress.denied", data)

    async def _emit(self, name: str, data: dict[str, Any]) -> None:
        try:
            await self._emit_strict(name, data)
        except Exception:
            log.exception("egress event %s for session %s was not recorded", name, self.session_id)

    async def _emit_strict(self, name: str, data: dict[str, Any]) -> None:
        await self._on_event(name, {"session_id": self.session_id, **data})


def presented_proxy_token(head: RequestHead) -> str:
    """The token in ``Proxy-Authorization`` (Basic: the password; or Bearer); "" if none."""
    value = head.header("proxy-authorization") or ""
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("latin-1")
        except (binascii.Error, ValueError):
            return ""
        return decoded.partition(":")[2]
    return ""


def _upstream_head(head: RequestHead, where: Destination, inject: tuple[str, str] | None) -> bytes:
    """The request as it goes upstream: origin form, no hop-by-hop or proxy headers."""
    # Host is the URL's, never the client's own: a different Host to an allowed address
    # would reach another virtual host behind it, one the policy never allowed.
    dropped = {*_HOP_BY_HOP, "host"}
    if inject is not None:
        dropped.add(inject[0].lower())  # the sandbox must not choose the credential
    host = f"[{where.host}]" if ":" in where.host else where.host
    lines = [f"{head.method} {where.path} HTTP/1.1", f"Host: {host}:{where.port}"]
    lines += [f"{k}: {v}" for k, v in head.headers if k.lower() not in dropped]
    if inject is not None:
        lines.append(f"{inject[0]}: {inject[1]}")
    # One exchange per connection: the end of the reply is the end of the connection.
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _answer(
    writer: asyncio.StreamWriter,
    status: int,
    text: str,
    extra: list[tuple[str, str]] | None = None,
) -> None:
    reasons = {
        400: "Bad Request",
        403: "Forbidden",
        407: "Proxy Authentication Required",
        429: "Too Many Requests",
        502: "Bad Gateway",
        503: "Service Unavailable",
    }
    body = (text + "\n").encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
        *(extra or []),
    ]
    head = f"HTTP/1.1 {status} {reasons.get(status, 'Error')}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    with contextlib.suppress(ConnectionError):
        writer.write(head.encode() + body)
        await writer.drain()
