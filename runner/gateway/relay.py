"""Relaying one Messages API call upstream, streaming, with the real key put in on the way.

The sandbox holds only its per-session token. Every credential header it sends is
dropped here and the controller's upstream key is added, so the real key exists only
in the controller and on the wire to the upstream; it is never sent back.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

import anyio
import httpx
from starlette.responses import Response, StreamingResponse

from runner.gateway.anthropic_errors import error_response
from runner.gateway.sse import SseParser
from runner.gateway.usage import StreamUsage, Tokens

# RFC 9110 hop-by-hop headers, plus the ones httpx recomputes for the new connection.
_HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
        "upgrade", "host", "content-length", "accept-encoding", "content-encoding",
    }
)  # fmt: skip
# Anything that could carry a credential: the sandbox's token must not reach the
# upstream, and nothing the sandbox sends may stand in for the controller's key.
_CREDENTIALS = frozenset({"authorization", "x-api-key", "proxy-authorization", "cookie"})
_JSON_LIMIT = 4 * 1024 * 1024  # non-streamed bodies are read for usage up to this size


@dataclass(frozen=True)
class Upstream:
    """Where model calls go and the key they carry (None: the upstream needs none)."""

    url: str
    key: str | None


@dataclass(frozen=True)
class Exchange:
    """What one relayed call did, for usage and the audit event."""

    status: int
    tokens: Tokens
    model: str | None
    stop_reason: str | None
    seconds: float
    error: str | None = None


DoneFn = Callable[[Exchange], Awaitable[None]]


def upstream_headers(incoming: Mapping[str, str], key: str | None) -> dict[str, str]:
    """The headers to send upstream: the sandbox's own minus hop-by-hop and credentials."""
    headers = {
        name: value
        for name, value in incoming.items()
        if name.lower() not in _HOP_BY_HOP and name.lower() not in _CREDENTIALS
    }
    if key is not None:
        headers["x-api-key"] = key
    return headers


def downstream_headers(upstream: httpx.Headers) -> dict[str, str]:
    """The upstream's reply headers the sandbox may see (hop-by-hop and cookies dropped)."""
    return {
        name: value
        for name, value in upstream.items()
        if name.lower() not in _HOP_BY_HOP and name.lower() != "set-cookie"
    }


async def relay(
    client: httpx.AsyncClient,
    upstream: Upstream,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    on_done: DoneFn,
) -> Response:
    """Send the call upstream and stream the reply back, calling ``on_done`` at its end."""
    started = time.monotonic()
    url = upstream.url.rstrip("/") + path + (f"?{query}" if query else "")
    request = client.build_request(
        "POST", url, headers=upstream_headers(headers, upstream.key), content=body
    )
    try:
        response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        seconds = time.monotonic() - started
        error = f"model upstream unreachable: {type(exc).__name__}"
        await on_done(Exchange(502, Tokens(), None, None, seconds, error=error))
        return error_response(502, error)
    return StreamingResponse(
        _forward(response, started, on_done),
        status_code=response.status_code,
        headers=downstream_headers(response.headers),
    )


async def _forward(
    response: httpx.Response, started: float, on_done: DoneFn
) -> AsyncIterator[bytes]:
    is_stream = response.headers.get("content-type", "").startswith("text/event-stream")
    parser, usage, kept = SseParser(), StreamUsage(), bytearray()
    error: str | None = None
    try:
        # aiter_bytes decodes any content-encoding, so the SSE parser sees plain text.
        async for chunk in response.aiter_bytes():
            if is_stream:
                for event in parser.feed(chunk):
                    usage.see(event)
            elif len(kept) < _JSON_LIMIT:
                kept += chunk
            yield chunk
    except httpx.HTTPError as exc:
        error = f"upstream stream broke: {type(exc).__name__}"
        raise
    finally:
        if not is_stream:
            _read_json_usage(bytes(kept), usage)
        seconds = time.monotonic() - started
        exchange = Exchange(
            response.status_code, usage.tokens, usage.model, usage.stop_reason, seconds, error
        )
        # A sandbox that hangs up mid-stream cancels this task; the usage it already
        # caused must still be recorded and audited, so the bookkeeping is shielded.
        with anyio.CancelScope(shield=True):
            await response.aclose()
            await on_done(exchange)


def _read_json_usage(raw: bytes, usage: StreamUsage) -> None:
    try:
        message = json.loads(raw)
    except ValueError:
        return
    if isinstance(message, dict):
        usage.tokens = Tokens.from_api(message.get("usage"))
        usage.model = str(message["model"]) if message.get("model") else None
        usage.stop_reason = message.get("stop_reason")
