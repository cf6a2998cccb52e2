"""The SQLAlchemy implementation of ``runner.auth.tokens.TokenStore``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Engine, String, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from runner.auth.tokens import ApiToken
from runner.store.models import Base


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(JSON)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    secret_hash: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(256))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        name=row.name,
        roles=frozenset(row.roles),
        tenant=row.tenant,
        created_by=row.created_by,
        created_at=_aware(row.created_at) or row.created_at,
        expires_at=_aware(row.expires_at) or row.expires_at,
        secret_hash=row.secret_hash,
        revoked_at=_aware(row.revoked_at),
        revoked_by=row.revoked_by,
        last_used_at=_aware(row.last_used_at),
    )


def _values(token: ApiToken) -> dict[str, object]:
    return {
        "name": token.name,
        "roles": sorted(token.roles),
        "tenant": token.tenant,
        "created_by": token.created_by,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "secret_hash": token.secret_hash,
        "revoked_at": token.revoked_at,
        "revoked_by": token.revoked_by,
        "last_used_at": token.last_used_at,
    }


class SqlTokenStore:
    """API tokens in SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def add(self, token: ApiToken) -> None:
        with self._sessions.begin() as db:
            db.add(ApiTokenRow(id=token.id, **_values(token)))

    def get(self, token_id: str) -> ApiToken | None:
        with self._sessions() as db:
            row = db.get(ApiTokenRow, token_id)
            return _token(row) if row is not None else None

    def find(self, *, tenant: str | None) -> list[ApiToken]:
        query = select(ApiTokenRow).order_by(ApiTokenRow.created_at, ApiTokenRow.id)
        if tenant is not None:
            query = query.where(ApiTokenRow.tenant == tenant)
        with self._sessions() as db:
            return [_token(row) for row in db.scalars(query)]

    def update(self, token: ApiToken) -> None:
        with self._sessions.begin() as db:
            row = db.get(ApiTokenRow, token.id)
            if row is None:
                raise KeyError(token.id)
            for name, value in _values(token).items():
                setattr(row, name, value)
