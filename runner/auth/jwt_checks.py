"""Checks on a JWT's header and claims that come before and after its signature."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from runner.auth.config import IssuerConfig
from runner.errors import AuthenticationError

#: ``typ`` header values an access token may carry (RFC 9068 ``at+jwt``; most IdPs
#: still say ``JWT``). Anything else (``id+jwt``, ``logout+jwt``, ...) is refused.
ACCESS_TOKEN_TYPES = frozenset({"jwt", "at+jwt", "application/at+jwt"})


def refuse(reason: str, message: str) -> AuthenticationError:
    return AuthenticationError(message, details={"reason": reason})


def _segment(part: str) -> Any:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, NOT verified: only to choose the issuer config and key."""
    parts = token.split(".")
    if len(parts) != 3:
        raise refuse("malformed", "the bearer token is not a signed JWT")
    try:
        header, claims = _segment(parts[0]), _segment(parts[1])
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise refuse("malformed", "the bearer token is not a readable JWT") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise refuse("malformed", "the bearer token is not a readable JWT")
    return header, claims


def check_header(header: Mapping[str, Any], config: IssuerConfig) -> None:
    """The algorithm comes from our config, never from the token; ID tokens are refused."""
    alg = header.get("alg")
    if alg not in config.algorithms:
        raise refuse(
            "algorithm_not_allowed",
            f"token algorithm {alg!r} is not allowed (accepted: {', '.join(config.algorithms)})",
        )
    if "crit" in header:
        # We understand no JWS extensions; RFC 7515 §4.1.11 says refuse then.
        raise refuse("malformed", "the token names critical header extensions Warden ignores")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES):
        raise refuse("not_an_access_token", f"a token of type {typ!r} is not an access token")


def check_claims(claims: Mapping[str, Any], config: IssuerConfig, now: float) -> None:
    """``iss`` exact, ``aud`` contains the API, ``exp`` required, ``nbf``/``iat`` sane."""
    if claims.get("iss") != config.issuer:
        raise refuse("wrong_issuer", "the token's issuer is not trusted")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or config.audience not in audiences:
        raise refuse("wrong_audience", f"the token is not meant for {config.audience!r}")
    leeway = config.leeway_seconds
    exp = _number(claims, "exp", required=True)
    if exp is not None and now > exp + leeway:
        raise refuse("expired", "the token has expired")
    nbf = _number(claims, "nbf", required=False)
    if nbf is not None and now + leeway < nbf:
        raise refuse("not_yet_valid", "the token is not valid yet")
    iat = _number(claims, "iat", required=False)
    if iat is not None and now + leeway < iat:
        raise refuse("not_yet_valid", "the token was issued in the future")
    _refuse_id_token(claims)


def _number(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise refuse("malformed", f"the token has no {name!r} claim")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise refuse("malformed", f"the token's {name!r} claim is not a number")
    return float(value)


def _refuse_id_token(claims: Mapping[str, Any]) -> None:
    """An ID token says who logged in to a client; it grants nothing at an API.

    When the client and the API share an audience, the audience check cannot tell the
    two apart, so: Keycloak marks ID tokens with ``typ: ID``; and a token with a
    ``nonce`` or ``at_hash`` (bound to a login) but no ``scope``/``scp`` is an ID token.
    """
    typ = claims.get("typ")
    if isinstance(typ, str) and typ.lower() in ("id", "id_token"):
        raise refuse("not_an_access_token", "an ID token is not an access token")
    login_bound = any(name in claims for name in ("nonce", "at_hash", "c_hash"))
    if login_bound and "scope" not in claims and "scp" not in claims:
        raise refuse("not_an_access_token", "an ID token is not an access token")
