"""``/dashboard/auth``: how a browser logs in to the dashboard, and who it is.

The pages themselves are static files (``runner/web``, mounted by ``runner.app``) that
call the ``/v1`` API with the session cookie these routes set (runner.auth.browser).
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import httpx
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import Field

from runner.api.deps import ServicesDep
from runner.api.schemas import Schema
from runner.api.security import ANONYMOUS, AnyRoleDep
from runner.auth.browser import LOGIN_COOKIE, LOGIN_SECONDS, SESSION_COOKIE
from runner.auth.config import IssuerConfig, is_loopback
from runner.auth.login import OidcLogin
from runner.errors import AuthenticationError, AuthorizationError, InvalidInputError
from runner.services import Services

router = APIRouter(prefix="/dashboard/auth", tags=["dashboard"])

_CALLBACK = "/dashboard/auth/oidc/callback"


class IssuerOut(Schema):
    index: int
    label: str


class LoginConfig(Schema):
    auth_enforced: bool
    issuers: list[IssuerOut]


class TokenLogin(Schema):
    token: str = Field(min_length=1, max_length=4096)


class Me(Schema):
    subject: str
    tenant: str
    roles: list[str]
    csrf: str = Field(description="Send it as X-CSRF-Token on every state-changing request.")
    auth_enforced: bool


def _login_issuers(services: Services) -> list[tuple[int, IssuerConfig]]:
    issuers = services.settings.auth_issuers
    return [(n, i) for n, i in enumerate(issuers) if i.client_id]


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    # HttpOnly: no script on the page can read the credential. Secure off loopback, so
    # the cookie never crosses a network in clear text (on loopback there is no TLS to
    # ask for). Lax: cross-site subrequests and form posts never carry it, and the
    # OIDC callback (a top-level navigation back from the issuer) still gets the login
    # cookie.
    secure = request.url.scheme == "https" or not is_loopback(request.url.hostname or "")
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, secure=secure, samesite="lax"
    )


def _same_origin(request: Request) -> None:
    """Refuse a login or logout posted from another site (login CSRF)."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.url.netloc:
        raise AuthorizationError(
            "log in from the dashboard's own page", details={"reason": "cross_origin"}
        )


@router.get("/config", response_model=LoginConfig)
async def login_config(services: ServicesDep) -> LoginConfig:
    """How this deployment can be logged in to (public: the login page needs it)."""
    return LoginConfig(
        auth_enforced=services.auth.enforced,
        issuers=[
            IssuerOut(index=n, label=i.label or i.issuer) for n, i in _login_issuers(services)
        ],
    )


@router.get("/oidc/start")
async def oidc_start(
    request: Request, services: ServicesDep, issuer: Annotated[int, Query(ge=0)] = 0
) -> RedirectResponse:
    """Send the browser to the identity provider (authorization code with PKCE)."""
    chosen = dict(_login_issuers(services)).get(issuer)
    if chosen is None:
        raise InvalidInputError(
            f"issuer {issuer} has no dashboard client_id: see GET /dashboard/auth/config",
            details={"issuer": issuer},
        )
    async with httpx.AsyncClient(timeout=10.0, follow_redirects=False) as http:
        start = await OidcLogin(http).start(issuer, chosen, str(request.url_for("oidc_callback")))
    response = RedirectResponse(start.url, status_code=303)
    sealed = services.browser.seal(
        LOGIN_COOKIE, {**start.state, "exp": time.time() + LOGIN_SECONDS}
    )
    _set_cookie(request, response, LOGIN_COOKIE, sealed, LOGIN_SECONDS)
    return response


@router.get("/oidc/callback", name="oidc_callback")
async def oidc_callback(
    request: Request,
    services: ServicesDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
) -> RedirectResponse:
    """Where the identity provider sends the browser back: trade the code, set the session."""
    try:
        actor_token = await _finish_login(request, services, code, state, error)
    except (AuthenticationError, AuthorizationError) as exc:
        await services.recorder.emit(
            "auth.failed", actor=ANONYMOUS, session=None,
            data={**exc.details, "message": exc.message, "path": request.url.path},
        )  # fmt: skip
        response = RedirectResponse(f"/dashboard/#/login?error={quote(exc.message)}", 303)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response
    token, expires_at = actor_token
    response = RedirectResponse("/dashboard/", status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    _start_session(request, response, services, token, "oidc", expires_at)
    return response


async def _finish_login(
    request: Request, services: Services, code: str | None, state: str | None, error: str | None
) -> tuple[str, float]:
    if error:
        raise AuthenticationError(f"the identity provider said: {error}", details={"reason": error})
    remembered = services.browser.open(LOGIN_COOKIE, request.cookies.get(LOGIN_COOKIE, ""))
    if remembered is None or not code or not state:
        raise AuthenticationError(
            "this login was not started here or took too long: start again",
            details={"reason": "no_login_state"},
        )
    chosen = dict(_login_issuers(services)).get(int(remembered.get("issuer", -1)))
    if chosen is None:
        raise AuthenticationError(
            "that issuer is no longer configured", details={"reason": "issuer"}
        )
    async with httpx.AsyncClient(timeout=10.0, follow_redirects=False) as http:
        result = await OidcLogin(http).finish(
            chosen, remembered, code=code, state=state,
            redirect_uri=str(request.url_for("oidc_callback")),
        )  # fmt: skip
    # The same checks as any bearer request: signature, audience, role map, tenant.
    await services.auth.authenticate(f"Bearer {result.access_token}")
    return result.access_token, result.expires_at


def _start_session(
    request: Request, response: Response, services: Services, credential: str, kind: str,
    expires_at: float,
) -> None:  # fmt: skip
    value, _csrf = services.browser.new_session(credential, kind, expires_at=expires_at)
    _set_cookie(request, response, SESSION_COOKIE, value, int(max(1, expires_at - time.time())))


@router.post("/token")
async def token_login(
    request: Request, body: TokenLogin, services: ServicesDep, response: Response
) -> dict[str, Any]:
    """Log in with an API token (for deployments without an identity provider)."""
    _same_origin(request)
    try:
        actor = await services.auth.authenticate(f"Bearer {body.token}")
    except (AuthenticationError, AuthorizationError) as exc:
        await services.recorder.emit(
            "auth.failed", actor=ANONYMOUS, session=None,
            data={**exc.details, "message": exc.message, "path": request.url.path},
        )  # fmt: skip
        raise
    _start_session(request, response, services, body.token, "token", time.time() + 8 * 3600)
    return {"subject": actor.subject, "tenant": actor.tenant, "roles": sorted(actor.roles)}


@router.post("/logout", status_code=204)
async def logout(request: Request, response: Response) -> None:
    """Forget the browser's session (the credential itself stays valid until it expires)."""
    _same_origin(request)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=Me)
async def me(request: Request, services: ServicesDep, actor: AnyRoleDep) -> Me:
    """Who the page is logged in as, and the CSRF token its requests must carry."""
    cookie = request.cookies.get(SESSION_COOKIE)
    csrf = services.browser.open_session(cookie).csrf if cookie else ""
    return Me(
        subject=actor.subject,
        tenant=actor.tenant,
        roles=sorted(actor.roles),
        csrf=csrf,
        auth_enforced=services.auth.enforced,
    )
