"""The session store on SQLite and real PostgreSQL, through the Alembic migrations."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from runner.core import utcnow
from runner.errors import NotFoundError
from runner.sessions.model import ArtifactRecord, SessionRecord, StateChange
from runner.store.database import create_database_engine, migrate
from runner.store.sessions import SqlSessionStore


def _record(**overrides: object) -> SessionRecord:
    now = utcnow()
    values: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "tenant": "acme",
        "owner": "alice",
        "state": "starting",
        "details": {},
        "work_dir": "/src/app",
        "workspace_mode": "copy",
        "policy": "default",
        "image": "warden-sandbox:latest",
        "model": None,
        "permission_mode": "default",
        "prompt": "hello",
        "env": {"FOO": "bar"},
        "container_id": None,
        "created_at": now,
        "updated_at": now,
    }
    values.update(overrides)
    return SessionRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def store(database_url: str) -> SqlSessionStore:
    engine = create_database_engine(database_url)
    migrate(engine)
    migrate(engine)  # a second run is a no-op
    return SqlSessionStore(engine)


def test_round_trip_and_update(store: SqlSessionStore) -> None:
    """A stored session reads back equal, and updates change only what they name."""
    record = _record()
    store.add(record)
    assert store.get(record.id) == record
    updated = store.update(record.id, state="idle", details={"draft": ""}, container_id="c1")
    assert (updated.state, updated.details, updated.container_id) == ("idle", {"draft": ""}, "c1")
    assert updated.env == {"FOO": "bar"}
    assert updated.updated_at >= record.updated_at
    assert updated.created_at.tzinfo is not None


def test_list_filters_by_tenant_and_state(store: SqlSessionStore) -> None:
    """Listing can be scoped to a tenant and to states, oldest first."""
    t0 = utcnow()
    a = _record(created_at=t0, tenant="acme")
    b = _record(created_at=t0 + timedelta(seconds=1), tenant="acme", state="idle")
    c = _record(created_at=t0 + timedelta(seconds=2), tenant="other")
    for r in (a, b, c):
        store.add(r)
    assert [r.id for r in store.find(tenant="acme")] == [a.id, b.id]
    assert [r.id for r in store.find(states=["idle"])] == [b.id]
    assert len(store.find()) == 3


def test_history_and_artifacts_are_kept_in_order(store: SqlSessionStore) -> None:
    """State history and artifacts come back in the order recorded."""
    record = _record()
    store.add(record)
    for state in ("idle", "working", "permission_prompt", "idle"):
        store.record_state(StateChange(record.id, state, {"s": state}, utcnow()))
    assert [c.state for c in store.history(record.id)] == [
        "idle",
        "working",
        "permission_prompt",
        "idle",
    ]
    store.add_artifact(ArtifactRecord(record.id, "changes.patch", "/x/changes.patch", 12, utcnow()))
    assert [a.name for a in store.artifacts(record.id)] == ["changes.patch"]


def test_update_of_unknown_session_is_not_found(store: SqlSessionStore) -> None:
    """Updating a session that does not exist raises NotFoundError."""
    with pytest.raises(NotFoundError):
        store.update("nope", state="idle")
