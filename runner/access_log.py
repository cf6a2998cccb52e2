"""The HTTP access log of ``warden serve``: one line per request, in the controller's log.

Our own middleware rather than uvicorn's access logger: every session gateway is a
uvicorn server in the same process, and their loggers share names with the API's.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("runner.access")


class AccessLog:
    """ASGI middleware: ``CLIENT METHOD PATH STATUS MILLISECONDS``, after each response."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self._app(scope, receive, send)
            return
        began = time.monotonic()
        status = 0

        async def recorded(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, recorded)
        finally:
            client = scope.get("client") or ("-", 0)
            # The path only, never the query string: it may carry tokens.
            log.info(
                "%s %s %s %s %.1fms", client[0], scope.get("method", "-"), scope.get("path", "-"),
                status or "-", (time.monotonic() - began) * 1000,
            )  # fmt: skip
