"""Sealed dashboard cookies: bound to their purpose, unforgeable, expiring; the CSRF rule."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runner.auth.browser import (
    LOGIN_COOKIE,
    MAX_SESSION_SECONDS,
    SESSION_COOKIE,
    CookieSealer,
    check_csrf,
    load_cookie_key,
)
from runner.errors import AuthenticationError, AuthorizationError


def _sealer(tmp_path: Path) -> CookieSealer:
    return CookieSealer(load_cookie_key(tmp_path / "keys" / "dashboard.key"))


def test_the_key_is_made_once_and_readable_by_the_controller_only(tmp_path: Path) -> None:
    """The key file is created 0600 on first use and reused after."""
    path = tmp_path / "keys" / "dashboard.key"
    first = load_cookie_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_cookie_key(path) == first and len(first) == 32


def test_a_login_cookie_cannot_pass_for_a_session(tmp_path: Path) -> None:
    """The purpose is bound into the seal: a login cookie does not open as a session."""
    sealer = _sealer(tmp_path)
    login = sealer.seal(LOGIN_COOKIE, {"cred": "x", "exp": time.time() + 60})
    with pytest.raises(AuthenticationError):
        sealer.open_session(login)


def test_another_key_expiry_and_garbage_are_refused(tmp_path: Path) -> None:
    """A cookie sealed under another key, an expired one, and noise are all refused."""
    sealer = _sealer(tmp_path)
    other = _sealer(tmp_path / "elsewhere")
    value, _csrf = other.new_session("wdn_tok_x", "token", expires_at=time.time() + 60)
    expired = sealer.seal(SESSION_COOKIE, {"cred": "x", "csrf": "c", "exp": time.time() - 1})
    for cookie in (value, expired, "not-a-cookie", ""):
        with pytest.raises(AuthenticationError):
            sealer.open_session(cookie)


def test_a_session_lasts_at_most_eight_hours(tmp_path: Path) -> None:
    """A credential valid for a year still gives a session of at most 8 hours."""
    sealer = _sealer(tmp_path)
    value, csrf = sealer.new_session("wdn_tok_x", "token", expires_at=time.time() + 365 * 86400)
    session = sealer.open_session(value)
    assert session.credential == "wdn_tok_x" and session.csrf == csrf
    assert session.expires_at <= time.time() + MAX_SESSION_SECONDS


def test_csrf_is_required_for_every_method_that_changes_something(tmp_path: Path) -> None:
    """GET/HEAD/OPTIONS pass without it; POST/PUT/PATCH/DELETE need the exact token."""
    sealer = _sealer(tmp_path)
    session = sealer.open_session(sealer.new_session("t", "token", expires_at=time.time() + 60)[0])
    for method in ("GET", "HEAD", "OPTIONS"):
        check_csrf(session, method, None)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for header in (None, "", session.csrf + "x", session.csrf[:-1]):
            with pytest.raises(AuthorizationError):
                check_csrf(session, method, header)
        check_csrf(session, method, session.csrf)
