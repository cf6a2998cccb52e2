"""API tokens for CI and service accounts: created by admins, shown once, scoped, revocable."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from runner.auth import token_secret
from runner.auth.jwt_checks import refuse
from runner.auth.roles import GLOBAL_ADMIN, GRANTABLE_ROLES, effective_roles
from runner.core import Actor, EventSink, utcnow
from runner.errors import (
    AuthenticationError,
    AuthorizationError,
    InvalidInputError,
    NotFoundError,
)

MAX_LIFETIME_DAYS = 366
#: A token name (the API states it as a pattern).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_NAME = re.compile(NAME_PATTERN[1:-1])
#: ``last_used_at`` is written at most this often per token (not on every request).
_TOUCH_EVERY = timedelta(seconds=60)
#: Compared against when the id is unknown, so a miss costs what a hit costs.
_DUMMY_HASH = token_secret.hash_secret("wdn_tok_0000000000000000_unknown")


@dataclass(frozen=True)
class ApiToken:
    """A stored API token (its secret is never stored, only ``secret_hash``)."""

    id: str
    name: str
    roles: frozenset[str]
    tenant: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    secret_hash: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    last_used_at: datetime | None = None

    @property
    def subject(self) -> str:
        """How the audit log names whoever uses this token."""
        return f"token:{self.name}/{self.id}"


class TokenStore(Protocol):
    def add(self, token: ApiToken) -> None: ...

    def get(self, token_id: str) -> ApiToken | None: ...

    def find(self, *, tenant: str | None) -> list[ApiToken]: ...

    def update(self, token: ApiToken) -> None: ...


class ApiTokens:
    """Creates, lists, revokes and checks API tokens; every change is an audit event."""

    def __init__(
        self, store: TokenStore, events: EventSink, *, now: Callable[[], datetime] = utcnow
    ) -> None:
        self._store = store
        self._events = events
        self._now = now

    async def create(
        self,
        actor: Actor,
        *,
        name: str,
        roles: Iterable[str],
        expires_in_days: int,
        tenant: str | None = None,
    ) -> tuple[ApiToken, str]:
        """A new token and its secret (the only time the secret exists outside the caller).

        Raises:
            InvalidInputError: bad name, roles or lifetime.
            AuthorizationError: granting a role or tenant the creator does not hold.
        """
        wanted = frozenset(roles)
        _check_request(name, wanted, expires_in_days)
        tenant = tenant or actor.tenant
        # No escalation: a token can do at most what its creator can.
        missing = effective_roles(wanted) - actor.roles
        if missing or (tenant != actor.tenant and GLOBAL_ADMIN not in actor.roles):
            raise AuthorizationError(
                "a token cannot hold roles or a tenant its creator does not have",
                details={"reason": "token_escalation", "missingRoles": sorted(missing)},
            )
        token_id, secret = token_secret.new_secret()
        now = self._now()
        token = ApiToken(
            id=token_id,
            name=name,
            roles=wanted,
            tenant=tenant,
            created_by=actor.subject,
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days),
            secret_hash=token_secret.hash_secret(secret),
        )
        await self._events.emit("token.created", actor=actor, session=None, data=_audit(token))
        await asyncio.to_thread(self._store.add, token)
        return token, secret

    async def list(self, actor: Actor) -> list[ApiToken]:
        tenant = None if GLOBAL_ADMIN in actor.roles else actor.tenant
        return await asyncio.to_thread(self._store.find, tenant=tenant)

    async def revoke(self, actor: Actor, token_id: str) -> ApiToken:
        """Revoke now; the next request with it is refused. 404 outside the actor's tenant."""
        token = await asyncio.to_thread(self._store.get, token_id)
        if token is None or (token.tenant != actor.tenant and GLOBAL_ADMIN not in actor.roles):
            raise NotFoundError(f"no token {token_id}")
        if token.revoked_at is not None:
            return token
        await self._events.emit("token.revoked", actor=actor, session=None, data=_audit(token))
        revoked = replace(token, revoked_at=self._now(), revoked_by=actor.subject)
        await asyncio.to_thread(self._store.update, revoked)
        return revoked

    async def authenticate(self, secret: str) -> Actor:
        """The actor a presented secret stands for.

        Raises:
            AuthenticationError: unknown, malformed, revoked or expired.
        """
        token_id = token_secret.token_id_of(secret)
        token = await asyncio.to_thread(self._store.get, token_id) if token_id else None
        stored = token.secret_hash if token is not None else _DUMMY_HASH
        if not token_secret.matches(secret, stored) or token is None:
            raise refuse("unknown_token", "the API token is not valid")
        now = self._now()
        # The secret matched, so the refusal can name the token and its tenant in the audit.
        if token.revoked_at is not None:
            raise _attributed(refuse("revoked", "the API token has been revoked"), token)
        if now >= token.expires_at:
            raise _attributed(refuse("expired", "the API token has expired"), token)
        if token.last_used_at is None or now - token.last_used_at >= _TOUCH_EVERY:
            await asyncio.to_thread(self._store.update, replace(token, last_used_at=now))
        return Actor(token.subject, token.tenant, effective_roles(token.roles))


def _attributed(exc: AuthenticationError, token: ApiToken) -> AuthenticationError:
    exc.details.update(subject=token.subject, tenant=token.tenant)
    return exc


def _check_request(name: str, roles: frozenset[str], expires_in_days: int) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidInputError(
            "a token name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    unknown = roles - GRANTABLE_ROLES
    if not roles or unknown:
        raise InvalidInputError(
            f"roles must be a non-empty subset of {sorted(GRANTABLE_ROLES)}",
            details={"unknown": sorted(unknown)},
        )
    # Tokens that never expire outlive the pipelines they were made for.
    if not 1 <= expires_in_days <= MAX_LIFETIME_DAYS:
        raise InvalidInputError(f"expiresInDays must be between 1 and {MAX_LIFETIME_DAYS}")


def _audit(token: ApiToken) -> dict[str, object]:
    return {
        "token": token.id,
        "name": token.name,
        "roles": sorted(token.roles),
        "tenant": token.tenant,
        "expiresAt": token.expires_at.isoformat(),
    }
