"""Browser sessions for the dashboard: sealed cookies that carry a credential and a CSRF token.

A browser cannot keep a bearer token safely (any script on the page could read it), so
after login the credential the person proved (an OIDC access token, or an API token) is
sealed into an ``HttpOnly`` cookie with AES-GCM under a key only the controller holds.
Each request with the cookie is then authenticated exactly as a bearer request is
(revocation, expiry and role maps apply unchanged). The cookie also carries a random
CSRF token, which the page must echo in ``X-CSRF-Token`` on every state-changing
request: a cross-site form or script can make the browser send the cookie, but cannot
read the token (same-origin policy), so it cannot forge the header.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from runner.errors import AuthenticationError, AuthorizationError

#: The cookie names. ``__Host-`` would pin them to one origin but needs ``Secure``,
#: which loopback HTTP cannot have, so the attributes are set explicitly instead.
SESSION_COOKIE = "warden_session"
LOGIN_COOKIE = "warden_login"
CSRF_HEADER = "x-csrf-token"
#: Requests that change nothing; every other method must carry the CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: A browser session lasts at most this long, even if its credential lives longer.
MAX_SESSION_SECONDS = 8 * 3600
#: The OIDC round trip (authorize → callback) must finish within this.
LOGIN_SECONDS = 600


@dataclass(frozen=True)
class BrowserSession:
    """What a session cookie holds once opened."""

    credential: str
    csrf: str
    kind: str  # "oidc" or "token"
    expires_at: float


def load_cookie_key(path: Path) -> bytes:
    """The cookie-sealing key, made (readable by the controller only) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(AESGCM.generate_key(bit_length=256))
    return path.read_bytes()


class CookieSealer:
    """Seals and opens the dashboard's cookies (AES-256-GCM; the purpose is bound in)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, purpose: str, payload: dict[str, Any]) -> str:
        nonce = secrets.token_bytes(12)
        body = json.dumps(payload, separators=(",", ":")).encode()
        sealed = nonce + self._aead.encrypt(nonce, body, purpose.encode())
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, purpose: str, value: str) -> dict[str, Any] | None:
        """The payload, or None for anything altered, forged, expired or malformed."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            body = self._aead.decrypt(raw[:12], raw[12:], purpose.encode())
            payload = json.loads(body)
        except (ValueError, InvalidTag, TypeError):
            return None
        if not isinstance(payload, dict) or float(payload.get("exp", 0)) < time.time():
            return None
        return payload

    def new_session(self, credential: str, kind: str, *, expires_at: float) -> tuple[str, str]:
        """A sealed session cookie value and its CSRF token."""
        csrf = secrets.token_urlsafe(32)
        exp = min(expires_at, time.time() + MAX_SESSION_SECONDS)
        value = self.seal(
            SESSION_COOKIE, {"cred": credential, "csrf": csrf, "kind": kind, "exp": exp}
        )
        return value, csrf

    def open_session(self, value: str) -> BrowserSession:
        """The session a cookie names.

        Raises:
            AuthenticationError: the cookie is forged, altered or expired (log in again).
        """
        payload = self.open(SESSION_COOKIE, value)
        if payload is None or not isinstance(payload.get("cred"), str):
            raise AuthenticationError(
                "your dashboard session is invalid or has expired: log in again",
                details={"reason": "session_expired"},
            )
        return BrowserSession(
            credential=payload["cred"],
            csrf=str(payload.get("csrf", "")),
            kind=str(payload.get("kind", "")),
            expires_at=float(payload["exp"]),
        )


def check_csrf(session: BrowserSession, method: str, header: str | None) -> None:
    """Refuse a state-changing request whose CSRF header is not this session's token.

    Raises:
        AuthorizationError: missing or wrong token (403).
    """
    if method.upper() in SAFE_METHODS:
        return
    # Constant time: the comparison must not tell an attacker how much of a guess matched.
    if not header or not hmac.compare_digest(header.encode(), session.csrf.encode()):
        raise AuthorizationError(
            "this request needs the X-CSRF-Token header of your dashboard session"
            " (reload the page if it was open for long)",
            details={"reason": "csrf"},
        )
