"""The SQLAlchemy implementation of ``runner.sessions.model.SessionStore``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, fields, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from runner.core import PermissionMode, SessionState, WorkspaceMode, utcnow
from runner.errors import NotFoundError
from runner.sessions.model import ArtifactRecord, SessionRecord, StateChange
from runner.sessions.ownership import FencedError
from runner.store.leases import LeaseRow
from runner.store.models import ArtifactRow, SessionRow, StateChangeRow

#: The (replica, token) this process writes a session under, or None when it holds no
#: lease on it (a single controller, or a session never leased).
Fence = Callable[[str], "tuple[str, int] | None"]

#: Read from the lease table, not the session row.
_LEASE_FIELDS = frozenset({"replica", "lease_expires_at"})
_RECORD_FIELDS = tuple(f.name for f in fields(SessionRecord) if f.name not in _LEASE_FIELDS)
_MAPPINGS = frozenset({"details", "env", "usage", "workspace"})


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _to_record(row: SessionRow) -> SessionRecord:
    values: dict[str, Any] = {name: getattr(row, name) for name in _RECORD_FIELDS}
    for name in ("created_at", "updated_at", "ended_at"):
        values[name] = _aware(values[name])
    values["state"] = SessionState(values["state"])
    values["workspace_mode"] = WorkspaceMode(values["workspace_mode"])
    values["permission_mode"] = PermissionMode(values["permission_mode"])
    values["details"] = dict(values["details"] or {})
    values["env"] = dict(values["env"] or {})
    values["usage"] = dict(values["usage"] or {})
    values["workspace"] = dict(values["workspace"] or {})
    return SessionRecord(**values)


def _with_leases(db: Session, records: list[SessionRecord]) -> list[SessionRecord]:
    """The records with their owner replica and lease expiry, in one query."""
    if not records:
        return records
    query = select(LeaseRow).where(LeaseRow.session_id.in_([r.id for r in records]))
    leases = {row.session_id: row for row in db.scalars(query)}
    out = []
    for record in records:
        lease = leases.get(record.id)
        if lease is not None:
            record = replace(record, replica=lease.owner, lease_expires_at=_aware(lease.expires_at))
        out.append(record)
    return out


class SqlSessionStore:
    """Sessions, state history and artifacts in SQLite or PostgreSQL."""

    def __init__(self, engine: Engine, *, fence: Fence | None = None) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._fence = fence
        self._is_postgres = engine.dialect.name == "postgresql"

    def add(self, record: SessionRecord) -> None:
        values = {k: v for k, v in asdict(record).items() if k not in _LEASE_FIELDS}
        values["details"] = dict(record.details)
        values["env"] = dict(record.env)
        values["usage"] = dict(record.usage)
        values["workspace"] = dict(record.workspace)
        with self._sessions.begin() as db:
            db.add(SessionRow(**values))

    def get(self, session_id: str) -> SessionRecord | None:
        with self._sessions() as db:
            row = db.get(SessionRow, session_id)
            if row is None:
                return None
            return _with_leases(db, [_to_record(row)])[0]

    def find(
        self, *, tenant: str | None = None, states: Sequence[SessionState] | None = None
    ) -> list[SessionRecord]:
        query = select(SessionRow).order_by(SessionRow.created_at, SessionRow.id)
        if tenant is not None:
            query = query.where(SessionRow.tenant == tenant)
        if states is not None:
            query = query.where(SessionRow.state.in_(list(states)))
        with self._sessions() as db:
            return _with_leases(db, [_to_record(row) for row in db.scalars(query)])

    def update(self, session_id: str, **changes: Any) -> SessionRecord:
        unknown = set(changes) - set(_RECORD_FIELDS)
        if unknown:
            raise ValueError(f"not session fields: {sorted(unknown)}")
        with self._sessions.begin() as db:
            self._check_fence(db, session_id)
            row = self._row(db, session_id)
            for name, value in changes.items():
                setattr(row, name, dict(value) if name in _MAPPINGS else value)
            row.updated_at = changes.get("updated_at", utcnow())
            db.flush()
            return _to_record(row)

    def record_state(self, change: StateChange) -> None:
        with self._sessions.begin() as db:
            self._check_fence(db, change.session_id)
            db.add(
                StateChangeRow(
                    session_id=change.session_id,
                    state=change.state,
                    details=dict(change.details),
                    at=change.at,
                )
            )

    def history(self, session_id: str) -> list[StateChange]:
        query = (
            select(StateChangeRow)
            .where(StateChangeRow.session_id == session_id)
            .order_by(StateChangeRow.id)
        )
        with self._sessions() as db:
            return [
                StateChange(
                    row.session_id,
                    SessionState(row.state),
                    dict(row.details),
                    _aware(row.at) or row.at,
                )
                for row in db.scalars(query)
            ]

    def add_artifact(self, artifact: ArtifactRecord) -> None:
        with self._sessions.begin() as db:
            db.add(ArtifactRow(**asdict(artifact)))

    def artifacts(self, session_id: str) -> list[ArtifactRecord]:
        query = select(ArtifactRow).where(ArtifactRow.session_id == session_id)
        with self._sessions() as db:
            return [
                ArtifactRecord(
                    row.session_id,
                    row.name,
                    row.path,
                    row.size,
                    _aware(row.created_at) or row.created_at,
                )
                for row in db.scalars(query.order_by(ArtifactRow.id))
            ]

    def _check_fence(self, db: Session, session_id: str) -> None:
        """Refuse the write unless this replica's lease on the session is still current.

        Fencing: a replica that lost its lease (expired while it was cut off, or taken
        over) may not have noticed yet; its writes carry its old token and must change
        nothing. On PostgreSQL the lease row is share-locked until this transaction ends,
        so a takeover cannot commit between the check and the write.
        """
        held = self._fence(session_id) if self._fence is not None else None
        if held is None:
            return
        owner, token = held
        query = select(LeaseRow.token).where(
            LeaseRow.session_id == session_id,
            LeaseRow.owner == owner,
            LeaseRow.token == token,
            LeaseRow.expires_at > (func.now() if self._is_postgres else utcnow()),
        )
        if self._is_postgres:
            query = query.with_for_update(read=True)
        if db.scalar(query) is None:
            raise FencedError(
                f"session {session_id} is no longer owned by replica {owner} (lease token"
                f" {token} is stale): another replica has taken it over"
            )

    @staticmethod
    def _row(db: Session, session_id: str) -> SessionRow:
        row = db.get(SessionRow, session_id)
        if row is None:
            raise NotFoundError(f"no session {session_id}")
        return row
