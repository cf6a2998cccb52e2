"""The dashboard's OIDC login: authorization code with PKCE (RFC 7636), built on authlib.

The browser is sent to the issuer's authorization endpoint with a fresh ``state``,
``nonce`` and S256 code challenge; the verifier stays with us (sealed in a short-lived
cookie), so a code intercepted on its way back is useless to anyone else. The callback
trades the code for tokens at the token endpoint; the access token is then validated
exactly as a bearer token sent to the API is (issuer, audience, signature, roles).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client

from runner.auth.config import IssuerConfig, _require_https
from runner.errors import AuthenticationError


@dataclass(frozen=True)
class LoginStart:
    """Where to send the browser, and what to remember until it comes back."""

    url: str
    state: dict[str, Any]


@dataclass(frozen=True)
class LoginResult:
    access_token: str
    expires_at: float


def _refused(reason: str, message: str) -> AuthenticationError:
    return AuthenticationError(message, details={"reason": reason})


class OidcLogin:
    """Runs the code flow against the configured issuers that have a ``client_id``."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._discovery: dict[str, dict[str, Any]] = {}

    async def _endpoints(self, issuer: IssuerConfig) -> dict[str, Any]:
        cached = self._discovery.get(issuer.issuer)
        if cached is not None:
            return cached
        try:
            response = await self._http.get(issuer.resolved_discovery_url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise _refused(
                "idp_unreachable", f"the identity provider did not answer: {exc}"
            ) from exc
        for key in ("authorization_endpoint", "token_endpoint"):
            if not isinstance(document.get(key), str):
                raise _refused("idp_misconfigured", f"the issuer's discovery has no {key}")
            # The code and the verifier travel to these: never over plain HTTP off loopback.
            _require_https(document[key], key)
        self._discovery[issuer.issuer] = document
        return dict(document)

    def _client(self, issuer: IssuerConfig, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=issuer.client_id,
            client_secret=issuer.client_secret,
            scope=" ".join(issuer.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post" if issuer.client_secret else "none",
            timeout=10.0,
            follow_redirects=False,
        )

    async def start(self, index: int, issuer: IssuerConfig, redirect_uri: str) -> LoginStart:
        """The authorization URL, with a fresh state, nonce and PKCE verifier."""
        endpoints = await self._endpoints(issuer)
        verifier = generate_token(64)
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        async with self._client(issuer, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                endpoints["authorization_endpoint"],
                state=state,
                nonce=nonce,
                code_verifier=verifier,
            )
        remember = {"issuer": index, "state": state, "nonce": nonce, "verifier": verifier}
        return LoginStart(url=url, state=remember)

    async def finish(
        self, issuer: IssuerConfig, remembered: dict[str, Any], *, code: str, state: str,
        redirect_uri: str,
    ) -> LoginResult:  # fmt: skip
        """Trade the code for an access token.

        Raises:
            AuthenticationError: the state does not match (a forged or replayed callback),
                or the issuer refused the code.
        """
        if not secrets.compare_digest(state, str(remembered.get("state", ""))):
            raise _refused("state_mismatch", "the login answer does not match this browser's login")
        endpoints = await self._endpoints(issuer)
        try:
            async with self._client(issuer, redirect_uri) as client:
                token = await client.fetch_token(
                    endpoints["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=remembered["verifier"],
                )
        except Exception as exc:  # authlib raises its own OAuthError and httpx errors
            raise _refused(
                "code_refused", f"the identity provider refused the login: {exc}"
            ) from exc
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise _refused("no_access_token", "the identity provider returned no access token")
        expires_in = token.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        return LoginResult(access_token=access, expires_at=time.time() + lifetime)
