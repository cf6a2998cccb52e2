"""Warden's roles and what each may do (docs/auth.md has the table).

Roles are additive. ``operator`` and ``approver`` include ``viewer``: driving or
approving a session one cannot look at would be blind. ``auditor`` reads the audit log
only. ``admin`` has every role within its tenant; ``global_admin`` is admin across all
tenants and is only ever granted explicitly (a role map or a global admin's token).
"""

from __future__ import annotations

from collections.abc import Iterable

VIEWER = "viewer"
OPERATOR = "operator"
APPROVER = "approver"
AUDITOR = "auditor"
ADMIN = "admin"
GLOBAL_ADMIN = "global_admin"
#: Reads ``/metrics``. Not part of a tenant's admin: the metrics count every tenant's
#: sessions and tokens (labelled by tenant id), so only a scraper's token or a global
#: admin may read them.
METRICS = "metrics"

ROLES = frozenset({VIEWER, OPERATOR, APPROVER, AUDITOR, ADMIN})
GRANTABLE_ROLES = ROLES | {GLOBAL_ADMIN, METRICS}

_IMPLIES: dict[str, frozenset[str]] = {
    VIEWER: frozenset({VIEWER}),
    OPERATOR: frozenset({OPERATOR, VIEWER}),
    APPROVER: frozenset({APPROVER, VIEWER}),
    AUDITOR: frozenset({AUDITOR}),
    ADMIN: ROLES,
    GLOBAL_ADMIN: GRANTABLE_ROLES,
    METRICS: frozenset({METRICS}),
}


def effective_roles(roles: Iterable[str]) -> frozenset[str]:
    """Every role the given ones confer (unknown names confer nothing)."""
    out: set[str] = set()
    for role in roles:
        out |= _IMPLIES.get(role, frozenset())
    return frozenset(out)


def has_any_role(roles: Iterable[str], required: Iterable[str]) -> bool:
    """Whether ``roles`` confer at least one of ``required``."""
    return bool(effective_roles(roles) & set(required))
