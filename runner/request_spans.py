"""A span for every API request (``METHOD /route/{template}``), continuing a caller's trace.

Our own ASGI middleware, like the access log: it needs the services' tracer, which the
lifespan builds after the app exists, and nothing more than the W3C trace context.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from runner.api.context import SERVICES

_PROPAGATOR = TraceContextTextMapPropagator()


class RequestSpans:
    """ASGI middleware: a server span per HTTP request when tracing is on."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        services = (scope.get("state") or {}).get(SERVICES)
        traces = getattr(services, "traces", None)
        if scope.get("type") != "http" or traces is None or not traces.enabled:
            await self._app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = scope.get("method", "-")
        status = 0

        async def recorded(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with traces.tracer.start_as_current_span(
            method, context=_PROPAGATOR.extract(headers), kind=SpanKind.SERVER
        ) as span:
            # The path only, never the query string: it may carry tokens.
            span.set_attribute("http.request.method", method)
            span.set_attribute("url.path", scope.get("path", ""))
            try:
                await self._app(scope, receive, recorded)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500 or status == 0:
                    span.set_status(Status(StatusCode.ERROR))
