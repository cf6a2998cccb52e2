"""Every API request gets an id: in the ``x-request-id`` response header, in every error
body (``runner.app``) and in every log line written while it is served."""

from __future__ import annotations

from typing import Any

from runner.telemetry import request_id


class RequestIds:
    """ASGI middleware: takes the caller's ``x-request-id`` (if plain) or makes one."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self._app(scope, receive, send)
            return
        offered = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                offered = value.decode("latin-1")
        current = request_id.begin(offered)

        async def with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", current.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, with_id)
