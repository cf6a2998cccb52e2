"""A small OpenID Connect provider for tests: discovery and JWKS over real HTTP.

It mints RS256 access tokens, rotates its keys and can simulate an outage. Unit tests
run it in a thread (``OidcProvider().start()``); integration tests run it as its own
process: ``python -m tests.oidc_provider --port N`` (prints its issuer URL when ready).

Test-only endpoints: ``POST /mint`` (claims → token), ``POST /rotate``,
``POST /outage`` and ``GET /stats`` (how often the JWKS was fetched).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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

        def do_GET(self) -> None:
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
