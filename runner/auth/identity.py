"""From verified claims to an ``Actor``: subject, roles (via the role map) and tenant."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.auth.config import IssuerConfig
from runner.auth.jwt_checks import refuse
from runner.auth.roles import effective_roles
from runner.core import Actor
from runner.errors import AuthorizationError


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted claim path (``realm_access.roles``); None when absent."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def has_group_overage(claims: Mapping[str, Any]) -> bool:
    """Entra ID left the groups out (too many) and points at Graph instead."""
    names = claims.get("_claim_names")
    return (isinstance(names, Mapping) and "groups" in names) or claims.get("hasgroups") is True


def actor_from_claims(claims: Mapping[str, Any], config: IssuerConfig) -> Actor:
    """The person or service the token speaks for.

    Raises:
        AuthenticationError: no subject.
        AuthorizationError: group overage, no tenant, or no role at all (deny by default).
    """
    subject = claim_at(claims, config.subject_claim)
    if not isinstance(subject, str) or not subject:
        raise refuse("malformed", f"the token has no {config.subject_claim!r} claim")
    if "groups" in config.role_claims and has_group_overage(claims):
        # Guessing roles from a partial list could grant too little or, with a "deny"
        # group missing, too much; we do not call Graph on the user's behalf.
        raise AuthorizationError(
            "your token has too many groups for Entra ID to include them (group overage):"
            " map Entra app roles to Warden roles instead, or assign fewer groups",
            details={"reason": "group_overage", "subject": subject},
        )
    granted = [
        role
        for path in config.role_claims
        for value in _strings(claim_at(claims, path))
        for role in config.role_map.get(value, [])
    ]
    tenant = _tenant(claims, config, subject)
    roles = effective_roles(granted)
    if not roles:
        raise AuthorizationError(
            f"{subject} has no Warden role: ask an administrator to map one of your"
            f" {', '.join(config.role_claims)} to a role",
            details={"reason": "no_role", "subject": subject, "tenant": tenant},
        )
    return Actor(subject, tenant, roles)


def _tenant(claims: Mapping[str, Any], config: IssuerConfig, subject: str) -> str:
    if config.tenant_claim is None:
        return config.tenant
    tenant = claim_at(claims, config.tenant_claim)
    if not isinstance(tenant, str) or not tenant:
        # Without a tenant we could not scope what this caller sees: refuse.
        raise AuthorizationError(
            f"the token has no {config.tenant_claim!r} claim naming your tenant",
            details={"reason": "no_tenant", "subject": subject},
        )
    return tenant
