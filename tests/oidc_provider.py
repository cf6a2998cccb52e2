"""A small OpenID Connect provider for tests: discovery and JWKS over real HTTP.

It mints RS256 access tokens, rotates its keys and can simulate an outage. Unit tests
run it in a thread (``OidcProvider().start()``); integration tests run it as its own
process: ``python -m tests.oidc_provider --port N`` (prints its issuer URL when ready).

Test-only endpoints: ``POST /mint`` (claims → token), ``POST /rotate``,
``POST /outage`` and ``GET /stats`` (how often the JWKS was fetched).

For browser logins it also runs the authorization code flow with PKCE: ``GET /authorize``
shows a sign-in form listing ``users`` (subject → extra claims), ``POST /authorize``
sends the browser back with a code, and ``POST /token`` trades the code (checking the
S256 verifier, the client and the redirect URI) for an access token with ``audience``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey


def new_key() -> RSAKey:
    """A fresh RSA signing key with a random ``kid``."""
    kid = uuid.uuid4().hex[:12]
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


class OidcProvider:
    """Discovery + JWKS server; the signing key is the last published one."""

    def __init__(self, port: int = 0) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.published: list[RSAKey] = [new_key()]
        self.jwks_fetches = 0
        self.down = False
        #: Who can sign in at /authorize: subject → the claims their token carries.
        self.users: dict[str, dict[str, Any]] = {}
        self.audience = "warden"
        self.client_id = "warden-dashboard"
        self.codes: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def signing_key(self) -> RSAKey:
        return self.published[-1]

    def start(self) -> OidcProvider:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def rotate(self, *, keep_old: bool = False, key: RSAKey | None = None) -> RSAKey:
        """Publish a new signing key (``key`` if given), dropping the old ones unless kept."""
        key = key or new_key()
        with self._lock:
            self.published = [*self.published, key] if keep_old else [key]
        return key

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            self.jwks_fetches += 1
            return {"keys": [k.as_dict(private=False) for k in self.published]}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/jwks",
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def mint(
        self,
        claims: dict[str, Any],
        *,
        key: RSAKey | None = None,
        header: dict[str, Any] | None = None,
        lifetime: int = 300,
    ) -> str:
        """A signed token: ``iss``, ``iat`` and ``exp`` default to sensible values."""
        key = key or self.signing_key
        now = int(time.time())
        body = {"iss": self.issuer, "iat": now, "exp": now + lifetime, **claims}
        head = {"alg": "RS256", "typ": "at+jwt", "kid": key.kid, **(header or {})}
        return jwt.encode(head, body, key)

    def sign_in_form(self, query: str) -> str:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        buttons = "".join(
            f'<button name="login" value="{html.escape(u)}">Sign in as {html.escape(u)}</button>'
            for u in self.users
        )
        return f'<!doctype html><title>Test IdP</title><form method="post">{hidden}{buttons}</form>'

    def authorize(self, form: dict[str, str]) -> str:
        """The redirect back to the client, with a code for ``form["login"]``."""
        if form.get("client_id") != self.client_id or form.get("code_challenge_method") != "S256":
            raise ValueError("unknown client or no S256 PKCE challenge")
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**form, "used": False}
        back = {"code": code, "state": form.get("state", "")}
        return f"{form['redirect_uri']}?{urlencode(back)}"

    def token(self, form: dict[str, str]) -> dict[str, Any]:
        grant = self.codes.get(form.get("code", ""))
        if grant is None or grant["used"]:
            raise ValueError("invalid_grant")
        grant["used"] = True  # a code works once
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        redirect = form.get("redirect_uri")
        if challenge != grant["code_challenge"] or redirect != grant["redirect_uri"]:
            raise ValueError("invalid_grant")
        subject = grant["login"]
        claims = {"sub": subject, "aud": self.audience, **self.users[subject]}
        return {"access_token": self.mint(claims), "token_type": "Bearer", "expires_in": 300}


def _handler(provider: OidcProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            loaded: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
            return loaded

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            return {k: v[0] for k, v in parse_qs(raw).items()}

        def do_GET(self) -> None:
            if urlsplit(self.path).path == "/authorize":
                page = provider.sign_in_form(urlsplit(self.path).query).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return None
            if self.path == "/stats":
                return self._send(200, {"jwksFetches": provider.jwks_fetches})
            if provider.down:
                return self._send(503, {"error": "down"})
            if self.path == "/.well-known/openid-configuration":
                return self._send(200, provider.discovery())
            if self.path == "/jwks":
                return self._send(200, provider.jwks())
            return self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            if path in ("/authorize", "/token"):
                form = {**{k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}}
                form.update(self._form())
                try:
                    if path == "/token":
                        return self._send(200, provider.token(form))
                    self.send_response(302)
                    self.send_header("Location", provider.authorize(form))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                except (ValueError, KeyError) as exc:
                    error = {"error": "invalid_grant", "error_description": str(exc)}
                    return self._send(400, error)
            body = self._body()
            if self.path == "/mint":
                token = provider.mint(body.get("claims", {}), header=body.get("header"))
                return self._send(200, {"access_token": token})
            if self.path == "/rotate":
                key = provider.rotate(keep_old=bool(body.get("keepOld")))
                return self._send(200, {"kid": key.kid})
            if self.path == "/outage":
                provider.down = bool(body.get("down"))
                return self._send(200, {"down": provider.down})
            return self._send(404, {"error": "not found"})

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    provider = OidcProvider(args.port)
    print(provider.issuer, flush=True)
    provider.serve_forever()


if __name__ == "__main__":
    main()
