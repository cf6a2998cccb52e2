"""The SQL adapter of ``runner.sessions.ownership.LeaseStore``, and the replica list.

Times come from the database's clock (``now()`` on PostgreSQL), never a replica's own,
so replicas on hosts with skewed clocks agree on when a lease expired. SQLite has one
controller (``controller_lock``) and uses this process's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Engine,
    String,
    Table,
    Text,
    case,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from runner.core import utcnow
from runner.sessions.ownership import Lease
from runner.store.models import Base


class LeaseRow(Base):
    __tablename__ = "session_leases"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(256), index=True)
    token: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ReplicaRow(Base):
    __tablename__ = "replicas"

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


_LEASES = cast(Table, LeaseRow.__table__)
_REPLICAS = cast(Table, ReplicaRow.__table__)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _lease(row: Any) -> Lease:
    return Lease(row.session_id, row.owner, int(row.token), _aware(row.expires_at))


class SqlLeaseStore:
    """Leases in the ``session_leases`` table; ``duration`` is how long a renewal lasts."""

    def __init__(self, engine: Engine, *, duration: float) -> None:
        self._engine = engine
        self._duration = duration
        self._is_postgres = engine.dialect.name == "postgresql"

    def _now(self) -> ColumnElement[datetime]:
        if self._is_postgres:
            return func.now()  # the database's clock: one for every replica
        return literal(utcnow(), DateTime(timezone=True))

    def _until(self, seconds: float) -> ColumnElement[datetime]:
        if self._is_postgres:
            return func.now() + func.make_interval(0, 0, 0, 0, 0, 0, seconds)
        return literal(utcnow() + timedelta(seconds=seconds), DateTime(timezone=True))

    def acquire(self, session_id: str, replica: str) -> Lease | None:
        insert = postgresql.insert if self._is_postgres else sqlite.insert
        table = _LEASES
        values = insert(table).values(
            session_id=session_id, owner=replica, token=1, expires_at=self._until(self._duration)
        )
        mine = table.c.owner == values.excluded.owner
        live = table.c.expires_at > self._now()
        # The token grows with every new tenure: when the owner changes, so the old owner's
        # writes are fenced, and when a lease that had expired is taken again, even by its
        # old owner, so what that owner began in its last tenure cannot act in this one.
        stmt = values.on_conflict_do_update(
            index_elements=[table.c.session_id],
            set_={
                "token": case((mine & live, table.c.token), else_=table.c.token + 1),
                "owner": values.excluded.owner,
                "expires_at": values.excluded.expires_at,
            },
            where=mine | ~live,
        ).returning(table.c.session_id, table.c.owner, table.c.token, table.c.expires_at)
        with self._engine.begin() as conn:
            row = conn.execute(stmt).first()
        return _lease(row) if row is not None else None

    def renew(self, replica: str, session_ids: Sequence[str] | None = None) -> list[Lease]:
        table = _LEASES
        stmt = update(table).where(table.c.owner == replica, table.c.expires_at > self._now())
        if session_ids is not None:
            stmt = stmt.where(table.c.session_id.in_(list(session_ids)))
        stmt = stmt.values(expires_at=self._until(self._duration)).returning(
            table.c.session_id, table.c.owner, table.c.token, table.c.expires_at
        )
        with self._engine.begin() as conn:
            return [_lease(row) for row in conn.execute(stmt)]

    def release(self, replica: str, session_ids: Sequence[str] | None = None) -> int:
        table = _LEASES
        stmt = update(table).where(table.c.owner == replica, table.c.expires_at > self._now())
        if session_ids is not None:
            stmt = stmt.where(table.c.session_id.in_(list(session_ids)))
        with self._engine.begin() as conn:
            return conn.execute(stmt.values(expires_at=self._now())).rowcount

    def drop(self, session_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(LeaseRow).where(LeaseRow.session_id == session_id))

    def get(self, session_id: str) -> Lease | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(LeaseRow.__table__).where(LeaseRow.session_id == session_id))
            found = row.first()
        return _lease(found) if found is not None else None

    def many(self, session_ids: Sequence[str]) -> dict[str, Lease]:
        """The leases of the sessions named (those that have one)."""
        table = _LEASES
        with self._engine.connect() as conn:
            rows = conn.execute(select(table).where(table.c.session_id.in_(list(session_ids))))
            return {row.session_id: _lease(row) for row in rows}

    def expired(self) -> list[Lease]:
        table = _LEASES
        stmt = select(table).where(table.c.expires_at <= self._now()).order_by(table.c.expires_at)
        with self._engine.connect() as conn:
            return [_lease(row) for row in conn.execute(stmt)]

    # -- the replica list (who is alive, and where to forward to) ---------------------

    def heartbeat(self, replica: str, url: str) -> None:
        """Say this replica is alive and where it answers."""
        insert = postgresql.insert if self._is_postgres else sqlite.insert
        table = _REPLICAS
        values = insert(table).values(id=replica, url=url, seen_at=self._now())
        stmt = values.on_conflict_do_update(
            index_elements=[table.c.id], set_={"url": values.excluded.url, "seen_at": self._now()}
        )
        with self._engine.begin() as conn:
            conn.execute(stmt)

    def replicas(self) -> dict[str, str]:
        """Replicas seen within a lease duration: id → URL."""
        table = _REPLICAS
        since = self._until(-self._duration)
        with self._engine.connect() as conn:
            rows = conn.execute(select(table.c.id, table.c.url).where(table.c.seen_at > since))
            return {row.id: row.url for row in rows}

    def forget(self, replica: str) -> None:
        """Remove a replica from the list (a graceful shutdown)."""
        with self._engine.begin() as conn:
            conn.execute(delete(ReplicaRow).where(ReplicaRow.id == replica))
