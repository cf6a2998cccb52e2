"""The SQLAlchemy implementation of ``runner.events.webhooks.WebhookStore`` (the outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from runner.errors import NotFoundError
from runner.events.webhooks import PENDING, Attempt, Delivery, Webhook
from runner.store.models import Base


class WebhookRow(Base):
    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    after_seq: Mapped[int] = mapped_column(Integer)


class DeliveryRow(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "seq", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class AttemptRow(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)


class CursorRow(Base):
    __tablename__ = "event_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int | None] = mapped_column(Integer)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _hook(row: WebhookRow) -> Webhook:
    return Webhook(
        id=row.id,
        tenant=row.tenant,
        url=row.url,
        events=tuple(row.events),
        secret=row.secret,
        description=row.description,
        enabled=row.enabled,
        created_by=row.created_by,
        created_at=_aware(row.created_at) or row.created_at,
        after_seq=row.after_seq,
    )


def _delivery(row: DeliveryRow, history: Sequence[AttemptRow] = ()) -> Delivery:
    return Delivery(
        id=row.id,
        webhook_id=row.webhook_id,
        seq=row.seq,
        event_type=row.event_type,
        payload=row.payload,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=_aware(row.next_attempt_at),
        created_at=_aware(row.created_at),
        delivered_at=_aware(row.delivered_at),
        last_error=row.last_error,
        history=tuple(
            Attempt(a.number, _aware(a.at) or a.at, a.status_code, a.error, a.duration_ms)
            for a in history
        ),
    )


class SqlWebhookStore:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def add(self, hook: Webhook) -> None:
        with self._sessions.begin() as db:
            db.add(
                WebhookRow(
                    id=hook.id,
                    tenant=hook.tenant,
                    url=hook.url,
                    events=list(hook.events),
                    secret=hook.secret,
                    description=hook.description,
                    enabled=hook.enabled,
                    created_by=hook.created_by,
                    created_at=hook.created_at,
                    after_seq=hook.after_seq,
                )
            )

    def get(self, webhook_id: str) -> Webhook | None:
        with self._sessions() as db:
            row = db.get(WebhookRow, webhook_id)
            return _hook(row) if row is not None else None

    def find(self, tenant: str | None) -> list[Webhook]:
        query = select(WebhookRow).order_by(WebhookRow.created_at)
        if tenant is not None:
            query = query.where(WebhookRow.tenant == tenant)
        with self._sessions() as db:
            return [_hook(r) for r in db.scalars(query)]

    def update(self, webhook_id: str, **changes: object) -> Webhook:
        with self._sessions.begin() as db:
            row = db.get(WebhookRow, webhook_id)
            if row is None:
                raise NotFoundError(f"no webhook {webhook_id}")
            for name, value in changes.items():
                setattr(row, name, list(value) if name == "events" else value)  # type: ignore[call-overload]
            return _hook(row)

    def delete(self, webhook_id: str) -> None:
        with self._sessions.begin() as db:
            row = db.get(WebhookRow, webhook_id)
            if row is None:
                raise NotFoundError(f"no webhook {webhook_id}")
            ids = select(DeliveryRow.id).where(DeliveryRow.webhook_id == webhook_id)
            db.query(AttemptRow).filter(AttemptRow.delivery_id.in_(ids)).delete()
            db.query(DeliveryRow).filter(DeliveryRow.webhook_id == webhook_id).delete()
            db.delete(row)

    def cursor(self, name: str) -> int | None:
        with self._sessions() as db:
            row = db.get(CursorRow, name)
            return row.seq if row is not None else None

    def set_cursor(self, name: str, seq: int) -> None:
        """Store how far the reader called ``name`` got (the SIEM stream's position)."""
        with self._sessions.begin() as db:
            cursor = db.get(CursorRow, name)
            if cursor is None:
                db.add(CursorRow(name=name, seq=seq))
            else:
                cursor.seq = seq

    def enqueue(self, deliveries: Sequence[Delivery], *, name: str, reached: int | None) -> None:
        with self._sessions.begin() as db:
            ids = [d.id for d in deliveries]
            known = set(db.scalars(select(DeliveryRow.id).where(DeliveryRow.id.in_(ids))))
            for d in deliveries:
                if d.id in known:
                    continue
                known.add(d.id)
                db.add(
                    DeliveryRow(
                        id=d.id,
                        webhook_id=d.webhook_id,
                        seq=d.seq,
                        event_type=d.event_type,
                        payload=d.payload,
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=d.next_attempt_at,
                        created_at=d.created_at,
                    )
                )
            cursor = db.get(CursorRow, name)
            if cursor is None:
                db.add(CursorRow(name=name, seq=reached))
            else:
                cursor.seq = reached

    def due(self, now: datetime, *, exclude: set[str], limit: int) -> list[Delivery]:
        query = (
            select(DeliveryRow)
            .where(DeliveryRow.status == PENDING, DeliveryRow.next_attempt_at <= now)
            .order_by(DeliveryRow.next_attempt_at, DeliveryRow.seq)
            .limit(limit + len(exclude))
        )
        with self._sessions() as db:
            rows = [r for r in db.scalars(query) if r.id not in exclude]
            return [_delivery(r) for r in rows[:limit]]

    def deliveries(self, webhook_id: str, *, status: str | None, limit: int) -> list[Delivery]:
        query = select(DeliveryRow).where(DeliveryRow.webhook_id == webhook_id)
        if status is not None:
            query = query.where(DeliveryRow.status == status)
        query = query.order_by(DeliveryRow.seq.desc()).limit(limit)
        with self._sessions() as db:
            rows = list(db.scalars(query))
            return [_delivery(r, self._history(db, r.id)) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many deliveries there are in each status (for the metrics)."""
        query = select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
        with self._sessions() as db:
            return {str(status): int(count) for status, count in db.execute(query).all()}

    def delivery(self, delivery_id: str) -> Delivery | None:
        with self._sessions() as db:
            row = db.get(DeliveryRow, delivery_id)
            return _delivery(row, self._history(db, row.id)) if row is not None else None

    @staticmethod
    def _history(db: object, delivery_id: str) -> list[AttemptRow]:
        query = (
            select(AttemptRow).where(AttemptRow.delivery_id == delivery_id).order_by(AttemptRow.id)
        )
        return list(db.scalars(query))  # type: ignore[attr-defined]

    def record_attempt(
        self,
        delivery_id: str,
        attempt: Attempt,
        *,
        status: str,
        next_attempt_at: datetime | None,
    ) -> None:
        with self._sessions.begin() as db:
            db.add(
                AttemptRow(
                    delivery_id=delivery_id,
                    number=attempt.number,
                    at=attempt.at,
                    status_code=attempt.status_code,
                    error=attempt.error,
                    duration_ms=attempt.duration_ms,
                )
            )
            db.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id == delivery_id)
                .values(
                    status=status,
                    attempts=attempt.number,
                    next_attempt_at=next_attempt_at,
                    last_error=attempt.error,
                    delivered_at=attempt.at if status == "delivered" else None,
                )
            )

    def replay(self, delivery_id: str, now: datetime) -> Delivery:
        with self._sessions.begin() as db:
            row = db.get(DeliveryRow, delivery_id)
            if row is None:
                raise NotFoundError(f"no delivery {delivery_id}")
            row.status, row.attempts, row.next_attempt_at = PENDING, 0, now
            return _delivery(row)
