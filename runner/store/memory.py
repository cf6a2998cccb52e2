"""The SQLAlchemy implementation of ``runner.sessions.memory.MemoryStore``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from runner.errors import ConflictError
from runner.sessions.memory import MemoryEntry
from runner.store.models import Base


class MemoryRow(Base):
    __tablename__ = "memory_entries"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _entry(row: MemoryRow) -> MemoryEntry:
    return MemoryEntry(
        tenant=row.tenant,
        key=row.key,
        value=row.value,
        version=row.version,
        updated_by=row.updated_by,
        updated_at=_aware(row.updated_at) or datetime.now(UTC),
        created_at=_aware(row.created_at),
        expires_at=_aware(row.expires_at),
    )


def _expired(row: MemoryRow, now: datetime) -> bool:
    expires = _aware(row.expires_at)
    return expires is not None and expires <= now


class SqlMemoryStore:
    """Tenant memory in SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def get(self, tenant: str, key: str) -> MemoryEntry | None:
        with self._sessions() as db:
            row = db.get(MemoryRow, (tenant, key))
            if row is None or _expired(row, datetime.now(UTC)):
                return None
            return _entry(row)

    def find(self, tenant: str, prefix: str = "") -> list[MemoryEntry]:
        query = select(MemoryRow).where(MemoryRow.tenant == tenant).order_by(MemoryRow.key)
        if prefix:
            # autoescape: a "_" in the prefix is a literal character, not a LIKE wildcard.
            query = query.where(MemoryRow.key.startswith(prefix, autoescape=True))
        now = datetime.now(UTC)
        with self._sessions() as db:
            return [_entry(row) for row in db.scalars(query) if not _expired(row, now)]

    def put(
        self,
        tenant: str,
        key: str,
        value: Any,
        actor: str,
        if_version: int | None,
        expires_at: datetime | None = None,
    ) -> MemoryEntry:
        now = datetime.now(UTC)
        try:
            with self._sessions.begin() as db:
                row = db.get(MemoryRow, (tenant, key), with_for_update=True)
                if row is not None and _expired(row, now):
                    # An expired entry is absent: the new write starts it afresh.
                    db.delete(row)
                    db.flush()
                    row = None
                current = row.version if row is not None else 0
                if if_version is not None and if_version != current:
                    raise ConflictError(
                        f"memory key {key!r} is at version {current}, not {if_version}",
                        details={"key": key, "version": current},
                    )
                if row is None:
                    row = MemoryRow(tenant=tenant, key=key, version=0, created_at=now)
                    db.add(row)
                row.value = value
                row.expires_at = expires_at
                row.version = current + 1
                row.updated_by = actor
                row.updated_at = now
                db.flush()
                return _entry(row)
        except IntegrityError as exc:
            # Two first writes raced; the loser retries against the winner's version.
            raise ConflictError(
                f"memory key {key!r} was written concurrently; read it and retry",
                details={"key": key},
            ) from exc

    def delete(self, tenant: str, key: str) -> bool:
        with self._sessions.begin() as db:
            row = db.get(MemoryRow, (tenant, key))
            if row is None:
                return False
            db.delete(row)
            return not _expired(row, datetime.now(UTC))
