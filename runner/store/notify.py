"""SQLAlchemy stores for notification channels and remote approval links."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Engine, String, select, update
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from runner.errors import NotFoundError
from runner.events.channels import Channel
from runner.events.links import ApprovalLink
from runner.store.models import Base


class ChannelRow(Base):
    __tablename__ = "notification_channels"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    notify: Mapped[list[str]] = mapped_column(JSON)
    approval_links: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LinkRow(Base):
    __tablename__ = "approval_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    prompt_hash: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_by: Mapped[str | None] = mapped_column(String(256))


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _channel(row: ChannelRow) -> Channel:
    return Channel(
        id=row.id,
        tenant=row.tenant,
        kind=row.kind,
        config=dict(row.config),
        notify=tuple(row.notify),
        approval_links=row.approval_links,
        created_by=row.created_by,
        created_at=_aware(row.created_at),
    )


class SqlChannelStore:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def add(self, channel: Channel) -> None:
        with self._sessions.begin() as db:
            db.add(
                ChannelRow(
                    id=channel.id,
                    tenant=channel.tenant,
                    kind=channel.kind,
                    config=dict(channel.config),
                    notify=list(channel.notify),
                    approval_links=channel.approval_links,
                    created_by=channel.created_by,
                    created_at=channel.created_at,
                )
            )

    def get(self, channel_id: str) -> Channel | None:
        with self._sessions() as db:
            row = db.get(ChannelRow, channel_id)
            return _channel(row) if row is not None else None

    def find(self, tenant: str | None) -> list[Channel]:
        query = select(ChannelRow).order_by(ChannelRow.created_at)
        if tenant is not None:
            query = query.where(ChannelRow.tenant == tenant)
        with self._sessions() as db:
            return [_channel(r) for r in db.scalars(query)]

    def delete(self, channel_id: str) -> None:
        with self._sessions.begin() as db:
            row = db.get(ChannelRow, channel_id)
            if row is None:
                raise NotFoundError(f"no notification channel {channel_id}")
            db.delete(row)


class SqlLinkStore:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def add(self, link: ApprovalLink) -> None:
        with self._sessions.begin() as db:
            db.add(
                LinkRow(
                    id=link.id,
                    session_id=link.session_id,
                    prompt_hash=link.prompt_hash,
                    decision=link.decision,
                    created_at=link.created_at,
                    expires_at=link.expires_at,
                )
            )

    def get(self, link_id: str) -> ApprovalLink | None:
        with self._sessions() as db:
            row = db.get(LinkRow, link_id)
            if row is None:
                return None
            return ApprovalLink(
                id=row.id,
                session_id=row.session_id,
                prompt_hash=row.prompt_hash,
                decision=row.decision,
                created_at=_aware(row.created_at),
                expires_at=_aware(row.expires_at),
                used_at=_aware(row.used_at) if row.used_at else None,
                used_by=row.used_by,
            )

    def consume(self, link_id: str, by: str, at: datetime) -> bool:
        # One conditional UPDATE: of two people using a link at once, exactly one wins.
        with self._sessions.begin() as db:
            result = db.execute(
                update(LinkRow)
                .where(LinkRow.id == link_id, LinkRow.used_at.is_(None))
                .values(used_at=at, used_by=by)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]
