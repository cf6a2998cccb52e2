"""``create_app(settings)``: the REST API, its lifespan, and the one error table."""

from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from runner import __version__, errors
from runner.api import (
    aegis_meta,
    aegis_sessions,
    audit,
    dashboard,
    events,
    health,
    memory,
    metrics,
    notifications,
    pipelines,
    policies,
    sessions,
    templates,
    terminal,
    tokens,
    webhooks,
    whoami,
    workspaces,
)
from runner.api import pages as dashboard_pages
from runner.api.body_limit import BodyLimit, SizeLimits
from runner.api.context import SERVICES
from runner.api.forward import forward, is_forwardable
from runner.api.schemas import ErrorResponse
from runner.api.security import PUBLIC_PATHS, authenticate
from runner.api.throttle_gate import ThrottleGate
from runner.mcp.http import PATH as MCP_PATH
from runner.mcp.http import McpEndpoint
from runner.request_ids import RequestIds
from runner.request_spans import RequestSpans
from runner.services import Services, build_services
from runner.sessions.ownership import NotOwnerError
from runner.settings import Settings
from runner.telemetry import request_id

log = logging.getLogger(__name__)

#: Domain error → HTTP status. The most specific class wins (checked in MRO order).
STATUS_BY_ERROR: dict[type[errors.WardenError], int] = {
    errors.InvalidInputError: 422,
    errors.NotFoundError: 404,
    errors.ConflictError: 409,
    errors.PolicyDeniedError: 403,
    errors.AuthenticationError: 401,
    errors.AuthorizationError: 403,
    errors.AuditUnavailableError: 503,
    errors.PayloadTooLargeError: 413,
    errors.HeadersTooLargeError: 431,
    errors.RateLimitedError: 429,
    errors.UnsupportedMediaTypeError: 415,
    errors.SandboxNotFoundError: 404,
    errors.ImageNotFoundError: 424,
    errors.RuntimeUnavailableError: 424,
    errors.SandboxError: 502,
    errors.WardenError: 500,
}


def status_for(exc: errors.WardenError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 500


def _error(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message, "details": details or {}}
    current = request_id.current()
    if current is not None:
        error["requestId"] = current  # what to quote to the operator, who finds it in the log
    body = {"error": error}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if status == 429 and details and "retryAfter" in details:
        headers["Retry-After"] = str(details["retryAfter"])
    return JSONResponse(body, status_code=status, headers=headers)


def _allowed(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


def _install_error_handlers(app: FastAPI, settings: Settings) -> None:
    @app.exception_handler(NotOwnerError)
    async def _not_owner(request: Request, exc: NotOwnerError) -> Response:
        # Another replica owns the session: it acts, and the caller still gets the answer.
        if is_forwardable(request, exc):
            try:
                return await forward(request, exc, settings.replica_id)
            except httpx.HTTPError as failed:
                log.warning("forwarding to replica %s failed: %s", exc.owner, failed)
        return _error(409, exc.code, exc.message, exc.details)

    @app.exception_handler(errors.WardenError)
    async def _warden(_request: Request, exc: errors.WardenError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("%s: %s %s", exc.code, exc.message, exc.details)
        return _error(status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return _error(
            422, "invalid_input", "the request is not valid: see details.fields", {"fields": fields}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = _error(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the first matching route's methods; a path served by
            # several routes (GET and PUT) takes them all.
            response.headers["Allow"] = ", ".join(_allowed(request))
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never a stack trace to the client: an id they can quote, the trace in our log.
        error_id = uuid.uuid4().hex[:12]
        log.exception("internal error %s on %s %s", error_id, request.method, request.url.path)
        return _error(
            500, "internal_error", f"internal error (id {error_id})", {"errorId": error_id}
        )


def _openapi_with_error_bodies(app: FastAPI) -> None:
    """Describe the errors as they are sent: our JSON error body, not FastAPI's default."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path, methods in spec.get("paths", {}).items():
            for method, op in methods.items():
                _document_errors(path, method, op)
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas["ErrorResponse"] = ErrorResponse.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        schemas.update(
            ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}").pop(
                "$defs", {}
            )
        )
        schemas["ErrorResponse"].pop("$defs", None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


#: What each error status means, as every operation documents it.
ERROR_STATUSES = {
    "400": "The body is not JSON",
    "401": "No valid credentials (a bearer token is needed)",
    "403": "A policy rule or a missing role refuses this (details.rule or details.required)",
    "404": "No such resource in your tenant",
    "409": "The resource's state forbids this now",
    "413": "The request body is over its size cap (details.limit)",
    "422": "Invalid input (see error.details.fields)",
    "429": "Over a rate limit or quota (details.limit; retry after Retry-After seconds)",
    "431": "The request headers are over the size cap",
    "503": "The audit ledger cannot record, so the action did not happen",
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}
}


def _document_errors(path: str, method: str, op: dict[str, Any]) -> None:
    """Every error an operation can answer, with our error body (the contract is the code)."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    public = path in PUBLIC_PATHS
    statuses = {"422", "431", "503"}
    if not public:
        # 404 too: a body or query may name something unknown (a policy, a template).
        statuses |= {"401", "403", "404", "429"}
    if method in ("post", "put", "patch", "delete"):
        statuses |= {"409", "429"} if not public else {"409"}
    if "requestBody" in op or method in ("post", "put", "patch"):
        statuses |= {"400", "413"}
    responses = op.setdefault("responses", {})
    for status in sorted(statuses):
        current = responses.get(status, {})
        responses[status] = {
            "description": current.get("description") or ERROR_STATUSES[status],
            "content": error,
            **({"headers": _RETRY_AFTER} if status == "429" else {}),
        }
    for status, response in responses.items():
        if status >= "400" and "content" not in response:
            response["content"] = error


def create_app(settings: Settings, *, services: Services | None = None) -> FastAPI:
    """The Warden API. ``services`` may be given (tests); otherwise the lifespan builds them."""

    mcp = McpEndpoint()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Services]]:
        built = services or await build_services(settings)
        try:
            await built.start()
            # What start-up built lives as long as the controller. Frozen, the collector's
            # full passes skip it: such a pass stops the event loop, and with it every
            # session's terminal pump, for as long as it takes to walk the heap (over
            # 100 ms on a busy host, and clients connecting trigger them).
            gc.collect()
            gc.freeze()
            async with mcp.running():
                # Starlette hands this state to every request (runner.api.context).
                yield {SERVICES: built}
        finally:
            gc.unfreeze()  # another app in this process (tests) starts from a clean slate
            await built.close()

    app = FastAPI(
        title="Warden",
        version=__version__,
        description="Claude Code in hardened sandboxes, gated by policy, with a signed audit log.",
        lifespan=lifespan,
        # Every route authenticates (public ones are listed in runner.api.security).
        dependencies=[Depends(authenticate)],
    )
    _install_error_handlers(app, settings)
    _openapi_with_error_bodies(app)
    app.include_router(health.router)
    # Before the sessions router: /v1/sessions/stats must not be read as a session id.
    app.include_router(aegis_sessions.router)
    app.include_router(sessions.router)
    app.include_router(workspaces.router)
    app.include_router(events.router)
    app.include_router(terminal.router)
    # A plain Starlette route: the socket authenticates itself (runner.api.terminal).
    app.router.add_websocket_route("/v1/sessions/{session_id}/terminal", terminal.terminal)
    app.include_router(templates.router)
    app.include_router(pipelines.router)
    app.include_router(memory.router)
    app.include_router(audit.router)
    app.include_router(policies.router)
    app.include_router(tokens.router)
    app.include_router(whoami.router)
    app.include_router(webhooks.router)
    app.include_router(notifications.router)
    app.include_router(metrics.router)
    app.include_router(aegis_meta.router)
    _install_dashboard(app)
    # The MCP server over streamable HTTP: it authenticates each request itself, as
    # /v1 does, and checks each tool's role (runner.mcp.http, runner.mcp.local).
    app.router.routes.append(Route(MCP_PATH, mcp, methods=["GET", "POST", "DELETE"]))
    # For the server's shutdown: open MCP listen streams must be ended first (McpEndpoint.drain).
    app.state.mcp = mcp
    # Refused before routing: a source out of failure budget, then an oversized request
    # (the last added runs first).
    app.add_middleware(ThrottleGate)  # type: ignore[arg-type]
    app.add_middleware(
        BodyLimit,  # type: ignore[arg-type]
        limits=SizeLimits(
            body_bytes=settings.max_body_bytes, header_bytes=settings.max_header_bytes
        ),
    )
    app.add_middleware(RequestSpans)
    app.add_middleware(RequestIds)  # outermost: every span and log line of it has the id
    return app


def _install_dashboard(app: FastAPI) -> None:
    """``/dashboard/``: its login routes, then its static files (docs/dashboard.md)."""
    app.include_router(dashboard.router)
    app.mount("/dashboard/vendor/termjs", dashboard_pages.termjs_files(), name="termjs")
    app.mount("/dashboard", dashboard_pages.static_pages(), name="dashboard")
    app.add_middleware(dashboard_pages.DashboardHeaders)
