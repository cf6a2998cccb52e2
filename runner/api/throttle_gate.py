"""The failure limit, enforced before routing: a source out of budget costs next to nothing.

``runner.api.security.authenticate`` spends the budgets and would refuse such a caller
too; this middleware refuses it earlier, before FastAPI routes the request and solves
its dependencies, so a flood of bad tokens cannot slow the answers to everyone else.
"""

from __future__ import annotations

from typing import Any

from runner.api.context import SERVICES
from runner.api.refusals import send_error
from runner.api.security import PUBLIC_PATHS
from runner.errors import RateLimitedError


class ThrottleGate:
    """ASGI middleware: 429 for a client address or token out of failure budget."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        services = (scope.get("state") or {}).get(SERVICES)
        if (
            scope.get("type") != "http"
            or services is None
            or not services.auth.enforced
            or scope.get("path") in PUBLIC_PATHS
        ):
            await self._app(scope, receive, send)
            return
        client = (scope.get("client") or ("-", 0))[0]
        authorization = _header(scope, b"authorization")
        try:
            await services.throttle.check_failures(client, authorization)
        except RateLimitedError as exc:
            await send_error(send, 429, exc, close=False)
            return
        await self._app(scope, receive, send)


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
