"""The dashboard's logins (OIDC code + PKCE, API token) and its cookie rules, in-process.

The app is the real one over SQLite (``tests.offline_app``); the identity provider is the
local OIDC provider over real HTTP, and the "browser" is an httpx client keeping cookies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from audit.stores.base import EventFilter
from runner.auth.browser import SESSION_COOKIE
from runner.auth.config import IssuerConfig
from runner.core import Actor
from runner.services import Services
from runner.settings import Settings
from tests.offline_app import offline_app
from tests.oidc_provider import OidcProvider

BASE = "http://127.0.0.1:9100"


def _run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(main())  # type: ignore[arg-type]


@asynccontextmanager
async def _dashboard(
    provider: OidcProvider, tmp_path: Path, base: str = BASE
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    provider.users = {"alice": {"roles": ["approver"]}, "nobody": {"roles": ["nothing"]}}
    issuer = IssuerConfig(
        issuer=provider.issuer, audience="warden", role_map={"approver": ["approver"]},
        client_id=provider.client_id,
    )  # fmt: skip
    settings = Settings(data_dir=tmp_path / "data", auth_issuers=[issuer])
    async with offline_app(settings) as (app, services):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=base) as browser:
            yield browser, services


async def _log_in(browser: httpx.AsyncClient, user: str) -> httpx.Response:
    """Start, sign in at the provider as ``user``, and come back; the callback's answer."""
    start = await browser.get("/dashboard/auth/oidc/start")
    assert start.status_code == 303
    authorize = start.headers["location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    assert params["code_challenge_method"] == "S256" and params["code_challenge"]
    async with httpx.AsyncClient() as idp:
        signed_in = await idp.post(authorize.split("?")[0], data={**params, "login": user})
    back = urlsplit(signed_in.headers["location"])
    return await browser.get(f"{back.path}?{back.query}")


def test_oidc_login_sets_an_httponly_session_that_works_as_a_bearer(
    provider: OidcProvider, tmp_path: Path
) -> None:
    """The code flow with PKCE ends in an HttpOnly, SameSite=Lax session cookie (not
    Secure on loopback); /me names the person and hands the page its CSRF token."""

    async def main() -> None:
        async with _dashboard(provider, tmp_path) as (browser, _services):
            done = await _log_in(browser, "alice")
            assert done.status_code == 303 and done.headers["location"] == "/dashboard/"
            cookie = next(
                c for c in done.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
            )
            assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
            me = (await browser.get("/dashboard/auth/me")).json()
            assert me["subject"] == "alice" and "approver" in me["roles"] and me["csrf"]

    _run(main)


def test_a_state_that_does_not_match_logs_no_one_in(provider: OidcProvider, tmp_path: Path) -> None:
    """A callback with another state (a forged or replayed answer) sets no session and is
    audited as auth.failed."""

    async def main() -> None:
        async with _dashboard(provider, tmp_path) as (browser, services):
            await browser.get("/dashboard/auth/oidc/start")
            back = await browser.get("/dashboard/auth/oidc/callback?code=x&state=forged")
            assert back.status_code == 303 and "#/login?error=" in back.headers["location"]
            assert SESSION_COOKIE not in back.headers.get("set-cookie", "")
            assert (await browser.get("/dashboard/auth/me")).status_code == 401
            failed = services.ledger.query(_type("auth.failed"), limit=5).entries
            assert "state_mismatch" in [e.event.data.get("reason") for e in failed]

    _run(main)


def test_a_person_without_a_role_gets_no_session(provider: OidcProvider, tmp_path: Path) -> None:
    """The access token is judged as any bearer is: no mapped role, no session."""

    async def main() -> None:
        async with _dashboard(provider, tmp_path) as (browser, _services):
            done = await _log_in(browser, "nobody")
            assert "#/login?error=" in done.headers["location"]
            assert (await browser.get("/dashboard/auth/me")).status_code == 401

    _run(main)


def test_state_changes_need_the_csrf_token_and_an_altered_cookie_is_refused(
    provider: OidcProvider, tmp_path: Path
) -> None:
    """With the cookie only, a POST is refused (403 csrf); with the token it reaches the
    route; a cookie changed by one character is 401."""

    async def main() -> None:
        async with _dashboard(provider, tmp_path) as (browser, _services):
            await _log_in(browser, "alice")
            csrf = (await browser.get("/dashboard/auth/me")).json()["csrf"]
            bare = await browser.post("/v1/sessions/nope/approve")
            assert bare.status_code == 403
            assert bare.json()["error"]["details"]["reason"] == "csrf"
            wrong = await browser.post("/v1/sessions/nope/approve", headers={"X-CSRF-Token": "x"})
            assert wrong.status_code == 403
            right = await browser.post("/v1/sessions/nope/approve", headers={"X-CSRF-Token": csrf})
            assert right.status_code == 404  # past authentication: no such session
            value = browser.cookies[SESSION_COOKIE]
            browser.cookies.set(
                SESSION_COOKIE, value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
            )
            assert (await browser.get("/dashboard/auth/me")).status_code == 401

    _run(main)


def test_token_login_and_cross_origin_logins(provider: OidcProvider, tmp_path: Path) -> None:
    """An API token logs a browser in; a login posted from another origin is refused;
    off loopback the cookie is Secure."""

    async def main() -> None:
        async with _dashboard(provider, tmp_path, base="http://warden.example") as (
            browser, services,
        ):  # fmt: skip
            admin = Actor("root", "default", frozenset({"admin", "viewer", "approver"}))
            _token, secret = await services.auth.tokens.create(
                admin, name="dash", roles=["viewer"], expires_in_days=1
            )
            foreign = await browser.post(
                "/dashboard/auth/token", json={"token": secret},
                headers={"Origin": "https://evil.example"},
            )  # fmt: skip
            assert foreign.status_code == 403
            done = await browser.post(
                "/dashboard/auth/token", json={"token": secret},
                headers={"Origin": "http://warden.example"},
            )  # fmt: skip
            assert done.status_code == 200 and done.json()["roles"] == ["viewer"]
            assert "Secure" in done.headers["set-cookie"]
            bad = await browser.post("/dashboard/auth/token", json={"token": "wdn_tok_nope"})
            assert bad.status_code == 401

    _run(main)


def _type(name: str) -> EventFilter:
    return EventFilter(type=name)


def test_without_authentication_the_dashboard_opens_as_the_local_user(tmp_path: Path) -> None:
    """No issuer, no auth: /me is the local user with every role; the page and its
    scripts are served from the package with the strict CSP."""

    async def main() -> None:
        async with offline_app(Settings(data_dir=tmp_path / "data")) as (app, _services):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as browser:
                me = (await browser.get("/dashboard/auth/me")).json()
                assert me["subject"] == "local" and "admin" in me["roles"]
                assert me["authEnforced"] is False
                page = await browser.get("/dashboard/")
                assert page.status_code == 200 and '<script src="app.js">' in page.text
                assert "script-src 'self';" in page.headers["content-security-policy"]
                term = await browser.get("/dashboard/vendor/termjs/term.js")
                assert term.status_code == 200 and "Terminal" in term.text
                config = (await browser.get("/dashboard/auth/config")).json()
                assert config == {"authEnforced": False, "issuers": []}

    _run(main)
