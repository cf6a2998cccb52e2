"""An issuer's signing keys: discovery and JWKS fetched over HTTP, cached, refreshed safely.

* Fetched once and kept for ``ttl`` seconds.
* An unknown ``kid`` (the IdP rotated its keys) refetches, but at most once per
  ``refresh_interval``, and concurrent misses share that one fetch: a flood of tokens
  with made-up key ids cannot turn Warden into a traffic generator against the IdP.
* If the IdP is unreachable, the last good keys keep being used (stale), so an IdP
  outage does not log everybody out; with no keys at all, every token is refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc.jwk import import_key

from runner.auth.config import IssuerConfig
from runner.errors import AuthenticationError

log = logging.getLogger(__name__)

Clock = Callable[[], float]

_ASYMMETRIC = frozenset({"RSA", "EC", "OKP"})


class KeySource:
    """The current JWKS of one configured issuer."""

    def __init__(
        self, config: IssuerConfig, http: httpx.AsyncClient, *, clock: Clock = time.monotonic
    ) -> None:
        self._config = config
        self._http = http
        self._clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._generation = 0
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> Any:
        """The public key for ``kid`` (a joserfc key).

        Raises:
            AuthenticationError: the key is unknown even after a permitted refresh, or
                no keys could ever be fetched.
        """
        if (
            self._fetched_at is None
            or self._clock() - self._fetched_at >= self._config.jwks_ttl_seconds
        ):
            await self._refresh(expired=True)
        found = self._lookup(kid)
        # A fetch in flight is joined (it may bring the key); otherwise pace new ones.
        if found is None and (self._lock.locked() or self._may_refresh_for_unknown_kid()):
            await self._refresh(expired=False)
            found = self._lookup(kid)
        if found is None:
            if not self._keys:
                raise AuthenticationError(
                    "the identity provider's signing keys are unavailable",
                    details={"reason": "jwks_unavailable"},
                )
            raise AuthenticationError(
                "the token is signed with an unknown key", details={"reason": "unknown_kid"}
            )
        return found

    def _lookup(self, kid: str | None) -> Any:
        if kid is not None:
            return self._keys.get(kid)
        # No kid: only unambiguous when the issuer publishes exactly one key.
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None

    def _may_refresh_for_unknown_kid(self) -> bool:
        return (
            self._attempted_at is None
            or self._clock() - self._attempted_at >= self._config.refresh_interval_seconds
        )

    async def _refresh(self, *, expired: bool) -> None:
        seen = self._generation
        async with self._lock:
            if self._generation != seen:
                return  # another request fetched while this one waited: share its result
            if not expired and not self._may_refresh_for_unknown_kid():
                return
            self._generation += 1
            self._attempted_at = self._clock()
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                log.warning(
                    "cannot fetch signing keys of %s (%s); %s",
                    self._config.issuer,
                    exc,
                    "serving the cached ones" if self._keys else "refusing its tokens",
                )
                return
            self._keys = keys
            self._fetched_at = self._clock()

    async def _fetch(self) -> dict[str, Any]:
        jwks_uri = self._config.jwks_uri or await self._discover()
        response = await self._http.get(jwks_uri)
        response.raise_for_status()
        return _signing_keys(response.json())

    async def _discover(self) -> str:
        response = await self._http.get(self._config.resolved_discovery_url)
        response.raise_for_status()
        document = response.json()
        # OIDC Discovery §4.3: the document must name the issuer we configured, or it is
        # not that issuer's document.
        if document.get("issuer") != self._config.issuer:
            raise ValueError(
                f"discovery names issuer {document.get('issuer')!r}, not {self._config.issuer!r}"
            )
        jwks_uri = document["jwks_uri"]
        if not isinstance(jwks_uri, str):
            raise ValueError("discovery has no jwks_uri")
        return jwks_uri


def _signing_keys(document: Any) -> dict[str, Any]:
    """``kid`` → key for the document's public signature keys; anything else is skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the JWKS has no keys list")
    keys: dict[str, Any] = {}
    for index, entry in enumerate(document["keys"]):
        # Symmetric ("oct") keys never verify anything here: a published shared secret
        # is no secret. Encryption keys are not for signatures.
        if not isinstance(entry, dict) or entry.get("kty") not in _ASYMMETRIC:
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            key = import_key(entry)
        except Exception as exc:  # a malformed key must not hide the good ones
            log.warning("skipping an unreadable key in the JWKS: %s", exc)
            continue
        keys[str(entry["kid"]) if "kid" in entry else f"#{index}"] = key
    return keys
