"""The SQLAlchemy implementation of ``runner.workspace.uploads.UploadStore``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Engine, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from runner.store.models import Base
from runner.workspace.archive import ArchiveKind
from runner.workspace.uploads import Upload


class UploadRow(Base):
    __tablename__ = "workspace_uploads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    owner: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    entries: Mapped[int] = mapped_column(Integer)
    declared_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _upload(row: UploadRow) -> Upload:
    return Upload(
        id=row.id,
        tenant=row.tenant,
        owner=row.owner,
        kind=ArchiveKind(row.kind),
        size=row.size,
        entries=row.entries,
        declared_bytes=row.declared_bytes,
        created_at=_aware(row.created_at),
        expires_at=_aware(row.expires_at),
    )


class SqlUploadStore:
    """Uploads in SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def add(self, upload: Upload) -> None:
        with self._sessions.begin() as db:
            db.add(
                UploadRow(
                    id=upload.id,
                    tenant=upload.tenant,
                    owner=upload.owner,
                    kind=str(upload.kind),
                    size=upload.size,
                    entries=upload.entries,
                    declared_bytes=upload.declared_bytes,
                    created_at=upload.created_at,
                    expires_at=upload.expires_at,
                )
            )

    def get(self, upload_id: str) -> Upload | None:
        with self._sessions() as db:
            row = db.get(UploadRow, upload_id)
            return _upload(row) if row is not None else None

    def remove(self, upload_id: str) -> bool:
        # One DELETE: of two concurrent takers, only one sees a row go.
        with self._sessions.begin() as db:
            result = db.execute(delete(UploadRow).where(UploadRow.id == upload_id))
            return bool(getattr(result, "rowcount", 0))

    def expired(self, now: datetime) -> list[Upload]:
        query = select(UploadRow).where(UploadRow.expires_at <= now).order_by(UploadRow.expires_at)
        with self._sessions() as db:
            return [_upload(row) for row in db.scalars(query)]
