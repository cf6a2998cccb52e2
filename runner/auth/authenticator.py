"""The one entry point: an ``Authorization`` header in, an ``Actor`` out (or a refusal)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import httpx

from runner.auth.config import IssuerConfig
from runner.auth.identity import actor_from_claims
from runner.auth.jwt_checks import refuse
from runner.auth.oidc import OidcValidator
from runner.auth.token_secret import PREFIX
from runner.auth.tokens import ApiTokens
from runner.core import Actor

#: Discovery and JWKS requests must not hang a user's request for long.
_IDP_TIMEOUT = httpx.Timeout(5.0)


class Authenticator:
    """Bearer API tokens (``wdn_tok_…``) and OIDC access tokens from trusted issuers.

    ``enforced`` is False when nothing is configured: the server then serves the local
    user only (loopback) and this class is not consulted.
    """

    def __init__(
        self, *, enforced: bool, tokens: ApiTokens, oidc: OidcValidator | None = None
    ) -> None:
        self.enforced = enforced
        self.tokens = tokens
        self._oidc = oidc

    async def authenticate(self, authorization: str | None) -> Actor:
        """The caller.

        Raises:
            AuthenticationError: no, malformed or invalid credentials (401).
            AuthorizationError: valid credentials that grant no role or tenant (403).
        """
        if not authorization:
            raise refuse("missing_token", "this API needs a bearer token")
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise refuse("malformed", "the Authorization header must be 'Bearer <token>'")
        if credential.startswith(PREFIX):
            return await self.tokens.authenticate(credential)
        if self._oidc is None:
            raise refuse("wrong_issuer", "no identity provider is configured; use an API token")
        verified = await self._oidc.validate(credential)
        return actor_from_claims(verified.claims, verified.config)


@contextlib.asynccontextmanager
async def open_authenticator(
    *, enabled: bool, issuers: Sequence[IssuerConfig], tokens: ApiTokens
) -> AsyncIterator[Authenticator]:
    """An authenticator with its own HTTP client to the identity providers."""
    async with httpx.AsyncClient(timeout=_IDP_TIMEOUT, follow_redirects=False) as http:
        oidc = OidcValidator(issuers, http) if issuers else None
        yield Authenticator(enforced=enabled or bool(issuers), tokens=tokens, oidc=oidc)
