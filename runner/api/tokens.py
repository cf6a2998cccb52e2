"""``/v1/tokens``: API tokens for CI and service accounts (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, status
from pydantic import Field

from runner.api.deps import AdminDep, TokensDep
from runner.api.schemas import Schema
from runner.auth.tokens import MAX_LIFETIME_DAYS, NAME_PATTERN, ApiToken

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


#: The roles a token may hold (runner.auth.roles.GRANTABLE_ROLES).
Role = Literal["viewer", "operator", "approver", "auditor", "admin", "global_admin", "metrics"]


class CreateToken(Schema):
    name: str = Field(pattern=NAME_PATTERN, description="What the token is for, e.g. ci-deploy.")
    roles: list[Role] = Field(min_length=1, description="Roles the token holds.")
    expires_in_days: int = Field(default=30, ge=1, le=MAX_LIFETIME_DAYS)
    tenant: str | None = Field(default=None, description="Default: the creator's tenant.")


class TokenOut(Schema):
    id: str
    name: str
    roles: list[str]
    tenant: str
    subject: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None


class CreatedToken(TokenOut):
    secret: str = Field(description="Shown once; only its hash is stored.")


class TokenList(Schema):
    tokens: list[TokenOut]


def _out(token: ApiToken) -> dict[str, object]:
    return {
        "id": token.id,
        "name": token.name,
        "roles": sorted(token.roles),
        "tenant": token.tenant,
        "subject": token.subject,
        "created_by": token.created_by,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "revoked_by": token.revoked_by,
        "last_used_at": token.last_used_at,
    }


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CreatedToken)
async def create_token(body: CreateToken, tokens: TokensDep, actor: AdminDep) -> CreatedToken:
    """Create a token; the response is the only place its secret ever appears."""
    token, secret = await tokens.create(
        actor,
        name=body.name,
        roles=body.roles,
        expires_in_days=body.expires_in_days,
        tenant=body.tenant,
    )
    return CreatedToken.model_validate({**_out(token), "secret": secret})


@router.get("", response_model=TokenList)
async def list_tokens(tokens: TokensDep, actor: AdminDep) -> TokenList:
    """The tenant's tokens (never their secrets)."""
    found = await tokens.list(actor)
    return TokenList(tokens=[TokenOut.model_validate(_out(t)) for t in found])


@router.delete("/{token_id}", response_model=TokenOut)
async def revoke_token(token_id: str, tokens: TokensDep, actor: AdminDep) -> TokenOut:
    """Revoke at once: the next request with it is refused."""
    return TokenOut.model_validate(_out(await tokens.revoke(actor, token_id)))
