"""The SQLAlchemy implementation of ``runner.pipelines.model.PipelineStore``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from runner.pipelines.model import PipelineRecord, StageRun
from runner.pipelines.spec import PipelineSpec
from runner.store.models import Base


class PipelineRow(Base):
    __tablename__ = "pipelines"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    owner: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    stages: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _record(row: PipelineRow) -> PipelineRecord:
    return PipelineRecord(
        id=row.id,
        tenant=row.tenant,
        owner=row.owner,
        spec=PipelineSpec.from_json(row.spec),
        state=row.state,
        stages=tuple(StageRun.from_json(s) for s in row.stages),
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
        ended_at=_aware(row.ended_at) if row.ended_at is not None else None,
        error=row.error,
    )


class SqlPipelineStore:
    """Pipelines in SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def add(self, record: PipelineRecord) -> None:
        with self._sessions.begin() as db:
            db.add(
                PipelineRow(
                    id=record.id,
                    tenant=record.tenant,
                    owner=record.owner,
                    name=record.spec.name,
                    state=record.state,
                    spec=record.spec.to_json(),
                    stages=[s.to_json() for s in record.stages],
                    created_at=record.created_at,
                    updated_at=record.updated_at,
                    ended_at=record.ended_at,
                    error=record.error,
                )
            )

    def get(self, pipeline_id: str) -> PipelineRecord | None:
        with self._sessions() as db:
            row = db.get(PipelineRow, pipeline_id)
            return _record(row) if row is not None else None

    def find(self, tenant: str | None) -> list[PipelineRecord]:
        query = select(PipelineRow).order_by(PipelineRow.created_at.desc())
        if tenant is not None:
            query = query.where(PipelineRow.tenant == tenant)
        with self._sessions() as db:
            return [_record(row) for row in db.scalars(query)]

    def unfinished(self) -> list[PipelineRecord]:
        with self._sessions() as db:
            rows = db.scalars(select(PipelineRow).where(PipelineRow.state == "running"))
            return [_record(row) for row in rows]

    def save(self, record: PipelineRecord) -> None:
        with self._sessions.begin() as db:
            row = db.get(PipelineRow, record.id)
            if row is None:
                raise KeyError(record.id)
            row.state = record.state
            row.stages = [s.to_json() for s in record.stages]
            row.updated_at = record.updated_at
            row.ended_at = record.ended_at
            row.error = record.error
