"""Size limits at the door: request headers and bodies, refused before they are read in full.

An ASGI middleware, outside every router: a declared ``Content-Length`` over the cap is
refused (413) before one byte of the body is read; a body without one (chunked) is
counted as it arrives and refused the moment it passes the cap, so a 100 MB body never
sits in memory. Uploads (``POST /v1/workspaces``) stream to disk under their own cap
(``WARDEN_UPLOAD_MAX_BYTES``, enforced by ``runner.workspace.uploads``), so they pass here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.api.refusals import send_error
from runner.errors import HeadersTooLargeError, PayloadTooLargeError
from runner.workspace.limits import format_size

#: Routes whose bodies are bounded by a cap of their own, not the general one.
STREAMED_BODIES = frozenset({("POST", "/v1/workspaces")})


@dataclass(frozen=True)
class SizeLimits:
    body_bytes: int
    header_bytes: int


def body_too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the request body is larger than this server accepts ({format_size(limit)});"
        " send less (upload big workspaces as an archive to POST /v1/workspaces), or ask"
        " the operator to raise WARDEN_MAX_BODY_BYTES",
        details={"limit": limit},
    )


class BodyLimit:
    """ASGI middleware enforcing ``SizeLimits`` (see the module docstring)."""

    def __init__(self, app: Any, limits: SizeLimits) -> None:
        self._app = app
        self._limits = limits

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self._app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers") or []
        header_bytes = sum(len(k) + len(v) + 4 for k, v in headers)
        if header_bytes > self._limits.header_bytes:
            limit = self._limits.header_bytes
            await send_error(
                send,
                431,
                HeadersTooLargeError(
                    f"the request headers are larger than this server accepts"
                    f" ({format_size(limit)}); send fewer or shorter headers",
                    details={"limit": limit},
                ),
                close=True,
            )
            return
        if (scope.get("method"), scope.get("path")) in STREAMED_BODIES:
            await self._app(scope, receive, send)
            return
        limit = self._limits.body_bytes
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            # Refused on the declaration alone: the body is never read.
            await send_error(send, 413, body_too_large(limit), close=True)
            return
        await _Counted(self._app, limit)(scope, receive, send)


class _Counted:
    """One request whose body is counted as it arrives; over the cap it is cut off."""

    def __init__(self, app: Any, limit: int) -> None:
        self._app = app
        self._limit = limit
        self._received = 0
        self._refused = False
        self._started = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counted_receive() -> Any:
            if self._refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message.get("type") == "http.request":
                self._received += len(message.get("body", b""))
                if self._received > self._limit:
                    self._refused = True
                    if not self._started:
                        self._started = True
                        await send_error(send, 413, body_too_large(self._limit), close=True)
                    # The app sees the client gone and stops; the rest is never read.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Any) -> None:
            if self._refused:
                return  # our 413 is the answer; the app's reply to the cut body is dropped
            if message.get("type") == "http.response.start":
                self._started = True
            await send(message)

        await self._app(scope, counted_receive, guarded_send)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
