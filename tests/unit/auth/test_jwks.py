"""Signing keys: cached, refetched on rotation at most once a minute with one shared
fetch, stale keys served through an IdP outage, and only configured, safe issuers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from runner.auth.config import IssuerConfig
from runner.auth.jwks import _signing_keys
from runner.auth.oidc import OidcValidator
from runner.errors import AuthenticationError
from tests.oidc_provider import OidcProvider, new_key
from tests.unit.auth.harness import Clock, claims, issuer_config


def run_with(provider: OidcProvider, scenario: Any, **overrides: Any) -> None:
    async def main() -> None:
        clock = Clock()
        async with httpx.AsyncClient() as http:
            config = issuer_config(provider, **overrides)
            await scenario(OidcValidator([config], http, monotonic=clock), clock)

    asyncio.run(main())


def test_keys_are_cached(provider: OidcProvider) -> None:
    """Many tokens, one JWKS fetch, until the TTL runs out."""

    async def scenario(oidc: OidcValidator, clock: Clock) -> None:
        for _ in range(5):
            await oidc.validate(provider.mint(claims()))
        assert provider.jwks_fetches == 1
        clock.advance(3601)
        await oidc.validate(provider.mint(claims()))
        assert provider.jwks_fetches == 2

    run_with(provider, scenario)


def test_concurrent_unknown_kids_share_one_fetch(provider: OidcProvider) -> None:
    """Twenty simultaneous tokens with a new kid cause one refetch, and all pass."""

    async def scenario(oidc: OidcValidator, clock: Clock) -> None:
        await oidc.validate(provider.mint(claims()))
        clock.advance(61)
        rotated = provider.rotate(keep_old=True)
        tokens = [provider.mint(claims(), key=rotated) for _ in range(20)]
        await asyncio.gather(*(oidc.validate(t) for t in tokens))
        assert provider.jwks_fetches == 2

    run_with(provider, scenario)


def test_made_up_kids_cannot_flood_the_idp(provider: OidcProvider) -> None:
    """Unknown kids refetch at most once per refresh interval."""

    async def scenario(oidc: OidcValidator, clock: Clock) -> None:
        stray = new_key()
        for _ in range(20):  # 20 tokens over 100 s
            with pytest.raises(AuthenticationError):
                await oidc.validate(provider.mint(claims(), key=stray))
            clock.advance(5)
        # One initial fetch plus one refresh once the minute had passed.
        assert provider.jwks_fetches == 2

    run_with(provider, scenario)


def test_stale_keys_served_while_the_idp_is_down(provider: OidcProvider) -> None:
    """With the TTL expired and the IdP unreachable, the cached keys still verify."""

    async def scenario(oidc: OidcValidator, clock: Clock) -> None:
        await oidc.validate(provider.mint(claims()))
        provider.down = True
        clock.advance(7200)
        verified = await oidc.validate(provider.mint(claims()))
        assert verified.claims["sub"] == "alice"

    run_with(provider, scenario)


def test_no_keys_at_all_refuses(provider: OidcProvider) -> None:
    """If the keys were never fetched and the IdP is down, tokens are refused (fail closed)."""
    provider.down = True

    async def scenario(oidc: OidcValidator, clock: Clock) -> None:
        with pytest.raises(AuthenticationError) as refused:
            await oidc.validate(provider.mint(claims()))
        assert refused.value.details["reason"] == "jwks_unavailable"

    run_with(provider, scenario)


def test_discovery_must_name_the_configured_issuer(provider: OidcProvider) -> None:
    """A discovery document for another issuer yields no keys."""

    async def scenario(oidc: OidcValidator, clock: Clock) -> None:
        with pytest.raises(AuthenticationError) as refused:
            await oidc.validate(provider.mint(claims(iss=provider.issuer + "/realms/x")))
        assert refused.value.details["reason"] == "jwks_unavailable"

    run_with(provider, scenario, issuer=provider.issuer + "/realms/x",
             discovery_url=provider.issuer + "/.well-known/openid-configuration")  # fmt: skip


def test_key_source_skips_symmetric_and_encryption_keys(provider: OidcProvider) -> None:
    """An ``oct`` key or a ``use: enc`` key in the JWKS is never used to verify."""
    rsa = provider.signing_key.as_dict(private=False)
    keys = _signing_keys(
        {
            "keys": [
                {"kty": "oct", "kid": "s", "k": "c2VjcmV0"},
                {**rsa, "kid": "e", "use": "enc"},
                rsa,
            ]
        }
    )
    assert list(keys) == [provider.signing_key.kid]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("algorithms", ["HS256"]),
        ("algorithms", ["none"]),
        ("algorithms", []),
        ("issuer", "http://idp.example.com"),
        ("jwks_uri", "http://idp.example.com/keys"),
        ("role_map", {"admins": "superuser"}),
    ],
)
def test_unsafe_issuer_config_is_refused(field: str, value: Any) -> None:
    """HS*/none algorithms, plain-HTTP URLs off loopback and unknown roles fail at startup."""
    values: dict[str, Any] = {"issuer": "https://idp.example.com", "audience": "warden"}
    with pytest.raises(ValidationError):
        IssuerConfig(**{**values, field: value})
