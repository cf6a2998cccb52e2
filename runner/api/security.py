"""Who is calling, and may they: authentication for every ``/v1`` request, roles per route.

``authenticate`` runs for every route (an app-level dependency); each route then names
the roles it needs with one of the ``…Dep`` aliases below. Deny by default: with
authentication enforced, a route that names no role refuses everyone (403), so a new
route cannot be forgotten open. Every refusal is written to the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from runner.api.context import get_services
from runner.auth.browser import CSRF_HEADER, SESSION_COOKIE, check_csrf
from runner.auth.roles import (
    ADMIN,
    APPROVER,
    AUDITOR,
    GRANTABLE_ROLES,
    METRICS,
    OPERATOR,
    VIEWER,
    has_any_role,
)
from runner.core import Actor
from runner.errors import AuthenticationError, AuthorizationError, WardenError

#: With no authentication configured the server only listens on loopback (see
#: ``runner.commands.serve``), so the caller is the local user, with every role.
LOCAL_ACTOR = Actor("local", "default", GRANTABLE_ROLES)
ANONYMOUS = Actor("anonymous")

#: Reachable without credentials: liveness and protocol negotiation reveal nothing; the
#: dashboard's login steps are how a browser gets credentials in the first place.
PUBLIC_PATHS = frozenset(
    {
        "/v1/health",
        "/v1/handshake",
        "/dashboard/auth/config",
        "/dashboard/auth/oidc/start",
        "/dashboard/auth/oidc/callback",
        "/dashboard/auth/token",
        "/dashboard/auth/logout",
    }
)


#: Sent by ``warden mcp`` (stdio) with the name its MCP client gave in the handshake.
MCP_CLIENT_HEADER = "x-warden-mcp-client"
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def authenticate(request: Request) -> Actor:
    """The caller, or 401/403 (audited). The local user when no auth is configured."""
    actor = await _authenticate(request)
    await _note_mcp_client(request, actor)
    return actor


async def _note_mcp_client(request: Request, actor: Actor) -> None:
    """A change made through ``warden mcp`` is recorded as an ``mcp.call`` naming the
    MCP client, as ``/mcp`` records its own calls; the REST handler then records the
    effect as for any caller.

    Only changes: REST records no reads, and a read recorded per header would let any
    caller grow the ledger at will (changes are rate-limited per caller). The name is
    the client's own word, kept short.
    """
    name = request.headers.get(MCP_CLIENT_HEADER)
    if name is None or request.method not in _MUTATING or actor == ANONYMOUS:
        return
    route = request.scope.get("route")
    path = route.path if isinstance(route, APIRoute) else request.url.path
    session = request.path_params.get("session_id")
    await get_services(request).recorder.emit(
        "mcp.call",
        actor=actor,
        session=session if isinstance(session, str) else None,
        data={
            "operation": f"{request.method} {path}",
            "client": name.strip()[:100] or None,
            "transport": "stdio",
        },
    )


async def _authenticate(request: Request) -> Actor:
    auth = get_services(request).auth
    if not auth.enforced:
        return LOCAL_ACTOR
    route = request.scope.get("route")
    path = route.path if isinstance(route, APIRoute) else request.url.path
    if path in PUBLIC_PATHS:
        return ANONYMOUS
    throttle = get_services(request).throttle
    client = request.client.host if request.client else "-"
    authorization = request.headers.get("authorization")
    # Before the credentials are looked at: a source out of failure budget is not
    # validated at all, so guessing is slowed and a flood costs no audit or crypto.
    await throttle.check_failures(client, authorization)
    try:
        actor = await auth.authenticate(_authorization(request))
    except AuthenticationError as exc:
        throttle.failed(client, authorization)
        await _audit(request, "auth.failed", _attributed(exc), exc)
        raise
    except AuthorizationError as exc:
        await _audit(request, "auth.denied", _attributed(exc), exc)
        raise
    if not isinstance(route, APIRoute) or not _names_roles(route.dependant):
        denied = AuthorizationError(
            "this endpoint declares no role, so it is closed (deny by default)",
            details={"reason": "route_without_role"},
        )
        await _audit(request, "auth.denied", actor, denied)
        raise denied
    await throttle.check_mutation(actor, request.method, client)
    return actor


def _authorization(request: Request) -> str | None:
    """The bearer credential: the header, or the one sealed in a dashboard session cookie.

    A cookie is sent by the browser on its own, also for requests another site makes it
    send, so a cookie-borne credential only counts for a state-changing request that
    carries the session's CSRF token too (runner.auth.browser).
    """
    header = request.headers.get("authorization")
    cookie = request.cookies.get(SESSION_COOKIE)
    if header or not cookie:
        return header
    session = get_services(request).browser.open_session(cookie)
    check_csrf(session, request.method, request.headers.get(CSRF_HEADER))
    return f"Bearer {session.credential}"


async def audit_refusal(request: Request, exc: AuthenticationError | AuthorizationError) -> None:
    """Audit a refused credential as ``authenticate`` does (for endpoints such as ``/mcp``
    that authenticate outside the routers)."""
    kind = "auth.failed" if isinstance(exc, AuthenticationError) else "auth.denied"
    await _audit(request, kind, _attributed(exc), exc)


def _attributed(exc: WardenError) -> Actor:
    """Who a refused credential belonged to, when it proved that much (its signature or
    secret held); otherwise anonymous, in the default tenant."""
    subject, tenant = exc.details.get("subject"), exc.details.get("tenant")
    if not isinstance(subject, str):
        return ANONYMOUS
    return Actor(subject, tenant if isinstance(tenant, str) else ANONYMOUS.tenant)


def _names_roles(dependant: Dependant) -> bool:
    return any(
        isinstance(dep.call, RoleRequirement) or _names_roles(dep) for dep in dependant.dependencies
    )


class RoleRequirement:
    """A route dependency: the caller must hold one of ``roles`` (admin holds them all)."""

    def __init__(self, *roles: str) -> None:
        self.roles = frozenset(roles)

    async def __call__(
        self, request: Request, actor: Annotated[Actor, Depends(authenticate)]
    ) -> Actor:
        if has_any_role(actor.roles, self.roles):
            return actor
        denied = AuthorizationError(
            f"{actor.subject} needs the {' or '.join(sorted(self.roles))} role for this",
            details={"reason": "missing_role", "required": sorted(self.roles)},
        )
        await _audit(request, "auth.denied", actor, denied)
        raise denied


async def _audit(request: Request, kind: str, actor: Actor, exc: WardenError) -> None:
    data: dict[str, Any] = {
        **exc.details,
        "message": exc.message,
        "method": request.method,
        "path": request.url.path,
        "client": request.client.host if request.client else None,
    }
    data.setdefault("subject", actor.subject)
    # Fail closed: if the ledger cannot record the refusal, the emit raises (503) and
    # the request is refused all the same.
    await get_services(request).recorder.emit(kind, actor=actor, session=None, data=data)


def require_roles(*roles: str) -> Any:
    """``Depends(...)`` for a route that needs one of ``roles``."""
    return Depends(RoleRequirement(*roles))


ViewerDep = Annotated[Actor, require_roles(VIEWER)]
OperatorDep = Annotated[Actor, require_roles(OPERATOR)]
ApproverDep = Annotated[Actor, require_roles(APPROVER)]
AuditorDep = Annotated[Actor, require_roles(AUDITOR)]
AdminDep = Annotated[Actor, require_roles(ADMIN)]
MetricsDep = Annotated[Actor, require_roles(METRICS)]
#: Any authenticated caller (every actor holds at least one role: no role is a 403).
AnyRoleDep = Annotated[Actor, require_roles(*GRANTABLE_ROLES)]
