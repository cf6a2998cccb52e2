"""Validation of OIDC bearer access tokens from an allowlist of issuers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import JoseError

from runner.auth.config import IssuerConfig
from runner.auth.identity import claim_at
from runner.auth.jwks import Clock, KeySource
from runner.auth.jwt_checks import check_claims, check_header, refuse, unverified_parts
from runner.errors import AuthenticationError


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and claims checked out, and the issuer that vouched for it."""

    config: IssuerConfig
    claims: dict[str, Any]


class OidcValidator:
    """Checks signature, algorithm, issuer, audience and time of access tokens."""

    def __init__(
        self,
        issuers: Sequence[IssuerConfig],
        http: httpx.AsyncClient,
        *,
        now: Callable[[], float] = time.time,
        monotonic: Clock = time.monotonic,
    ) -> None:
        self._issuers = {c.issuer: c for c in issuers}
        self._keys = {c.issuer: KeySource(c, http, clock=monotonic) for c in issuers}
        self._now = now

    async def validate(self, token: str) -> VerifiedToken:
        """The verified token.

        Raises:
            AuthenticationError: with ``details["reason"]`` saying what was wrong.
        """
        header, unverified = unverified_parts(token)
        # The unverified ``iss`` only selects among issuers we were configured with; it
        # never leads us to fetch keys from a URL the token chose.
        iss = unverified.get("iss")
        config = self._issuers.get(iss) if isinstance(iss, str) else None
        if config is None:
            raise refuse("wrong_issuer", "the token's issuer is not trusted")
        check_header(header, config)
        kid = header.get("kid")
        key = await self._keys[config.issuer].key(kid if isinstance(kid, str) else None)
        try:
            verified = jws.deserialize_compact(token, key, algorithms=[header["alg"]])
        except (JoseError, ValueError) as exc:
            raise refuse("bad_signature", "the token's signature does not verify") from exc
        try:
            claims = json.loads(verified.payload)
        except ValueError as exc:
            raise refuse("malformed", "the token's claims are not JSON") from exc
        if not isinstance(claims, dict):
            raise refuse("malformed", "the token's claims are not an object")
        try:
            check_claims(claims, config, self._now())
        except AuthenticationError as exc:
            # The signature held, so the claims are the issuer's: name who it was.
            exc.details.update(_attribution(claims, config))
            raise
        return VerifiedToken(config, claims)


def _attribution(claims: dict[str, Any], config: IssuerConfig) -> dict[str, str]:
    found: dict[str, str] = {}
    subject = claim_at(claims, config.subject_claim)
    if isinstance(subject, str):
        found["subject"] = subject
    tenant = claim_at(claims, config.tenant_claim) if config.tenant_claim else config.tenant
    if isinstance(tenant, str):
        found["tenant"] = tenant
    return found
