"""``/v1/whoami``: the caller as Warden sees it (subject, tenant, roles)."""

from __future__ import annotations

from fastapi import APIRouter

from runner.api.schemas import Schema
from runner.api.security import AnyRoleDep

router = APIRouter(prefix="/v1", tags=["meta"])


class WhoAmI(Schema):
    subject: str
    tenant: str
    roles: list[str]


@router.get("/whoami", response_model=WhoAmI)
async def whoami(actor: AnyRoleDep) -> WhoAmI:
    """Helps whoever configures role maps see what a token grants."""
    return WhoAmI(subject=actor.subject, tenant=actor.tenant, roles=sorted(actor.roles))
