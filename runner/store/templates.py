"""The SQLAlchemy implementation of ``runner.sessions.templates.TemplateStore``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from runner.core import PermissionMode, WorkspaceMode
from runner.sessions.templates import TEMPLATE_FIELDS, SessionTemplate
from runner.store.models import Base


class TemplateRow(Base):
    __tablename__ = "session_templates"

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _template(row: TemplateRow) -> SessionTemplate:
    fields = {k: v for k, v in row.fields.items() if k in TEMPLATE_FIELDS}
    for name, mode in (("permission_mode", PermissionMode), ("workspace_mode", WorkspaceMode)):
        if fields.get(name) is not None:
            fields[name] = mode(fields[name])
    return SessionTemplate(
        tenant=row.tenant,
        name=row.name,
        description=row.description,
        created_by=row.created_by,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
        **fields,
    )


class SqlTemplateStore:
    """Session templates in SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def get(self, tenant: str, name: str) -> SessionTemplate | None:
        with self._sessions() as db:
            row = db.get(TemplateRow, (tenant, name))
            return _template(row) if row is not None else None

    def find(self, tenant: str) -> list[SessionTemplate]:
        query = select(TemplateRow).where(TemplateRow.tenant == tenant).order_by(TemplateRow.name)
        with self._sessions() as db:
            return [_template(row) for row in db.scalars(query)]

    def put(self, template: SessionTemplate) -> tuple[SessionTemplate, bool]:
        try:
            return self._put(template)
        except IntegrityError:
            # Two first writes of one name raced: the loser replaces the winner's, as a
            # PUT of an existing template does (the last write wins, never a 500).
            return self._put(template)

    def _put(self, template: SessionTemplate) -> tuple[SessionTemplate, bool]:
        fields = {name: getattr(template, name) for name in TEMPLATE_FIELDS}
        fields["env"] = dict(template.env)
        with self._sessions.begin() as db:
            row = db.get(TemplateRow, (template.tenant, template.name))
            if row is None:
                db.add(
                    TemplateRow(
                        tenant=template.tenant,
                        name=template.name,
                        description=template.description,
                        fields=fields,
                        created_by=template.created_by,
                        created_at=template.created_at,
                        updated_at=template.updated_at,
                    )
                )
                return template, True
            row.description = template.description
            row.fields = fields
            row.updated_at = template.updated_at
            # A replaced template keeps who made it and when.
            kept = replace(template, created_by=row.created_by, created_at=_aware(row.created_at))
            return kept, False

    def delete(self, tenant: str, name: str) -> bool:
        with self._sessions.begin() as db:
            row = db.get(TemplateRow, (tenant, name))
            if row is None:
                return False
            db.delete(row)
            return True
