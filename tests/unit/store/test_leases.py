"""Session leases on SQLite and real PostgreSQL: takeover, batch renewal, fencing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event

from runner.core import utcnow
from runner.sessions.model import SessionRecord
from runner.sessions.ownership import FencedError
from runner.store.database import create_database_engine, migrate
from runner.store.leases import SqlLeaseStore
from runner.store.sessions import SqlSessionStore


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_database_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _record(session_id: str) -> SessionRecord:
    now = utcnow()
    return SessionRecord(
        id=session_id, tenant="acme", owner="alice", state="starting", details={},  # type: ignore[arg-type]
        work_dir="/src", workspace_mode="copy", policy="default", image="img",  # type: ignore[arg-type]
        model=None, permission_mode="default", prompt=None, env={}, container_id=None,  # type: ignore[arg-type]
        created_at=now, updated_at=now,
    )  # fmt: skip


def _wait_expired(leases: SqlLeaseStore, session_id: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while session_id not in {lease.session_id for lease in leases.expired()}:
        assert time.monotonic() < deadline, "lease never expired"
        time.sleep(0.05)


def test_one_owner_at_a_time_and_takeover_raises_the_token(engine: Engine) -> None:
    """A live lease is refused to others; after it expires the next owner gets token + 1."""
    leases = SqlLeaseStore(engine, duration=0.5)
    sid = str(uuid.uuid4())
    first = leases.acquire(sid, "a")
    assert first is not None and (first.owner, first.token) == ("a", 1)
    assert leases.acquire(sid, "b") is None  # a holds it
    again = leases.acquire(sid, "a")
    assert again is not None and again.token == 1  # the owner's own renewal: same tenure
    _wait_expired(leases, sid)
    taken = leases.acquire(sid, "b")
    assert taken is not None and (taken.owner, taken.token) == ("b", 2)
    assert leases.acquire(sid, "a") is None  # now b's
    assert leases.get(sid) == taken


def test_renewal_is_one_statement_for_all_of_a_replicas_leases(engine: Engine) -> None:
    """Renewing 20 leases issues one SQL statement and extends each of them."""
    leases = SqlLeaseStore(engine, duration=30)
    mine = [str(uuid.uuid4()) for _ in range(20)]
    for sid in mine:
        assert leases.acquire(sid, "a") is not None
    other = str(uuid.uuid4())
    assert leases.acquire(other, "b") is not None
    before = leases.many(mine)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        renewed = leases.renew("a")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements
    assert sorted(lease.session_id for lease in renewed) == sorted(mine)
    assert all(lease.expires_at > before[lease.session_id].expires_at for lease in renewed)
    assert leases.get(other) is not None and leases.get(other).owner == "b"  # type: ignore[union-attr]


def test_renewal_does_not_revive_an_expired_lease(engine: Engine) -> None:
    """A lease that expired (its owner was cut off) is not renewed: the owner must see it lost."""
    leases = SqlLeaseStore(engine, duration=0.3)
    sid = str(uuid.uuid4())
    assert leases.acquire(sid, "a") is not None
    _wait_expired(leases, sid)
    assert leases.renew("a") == []


def test_an_expired_lease_taken_again_by_its_owner_is_a_new_tenure(engine: Engine) -> None:
    """The owner re-acquiring its own expired lease gets token + 1: a new tenure."""
    leases = SqlLeaseStore(engine, duration=0.3)
    sid = str(uuid.uuid4())
    assert leases.acquire(sid, "a") is not None
    _wait_expired(leases, sid)
    again = leases.acquire(sid, "a")
    assert again is not None and (again.owner, again.token) == ("a", 2)


def test_renewal_extends_only_the_leases_named(engine: Engine) -> None:
    """A lease its replica let go of (not named) is not renewed: it expires for others."""
    leases = SqlLeaseStore(engine, duration=0.5)
    kept, dropped = str(uuid.uuid4()), str(uuid.uuid4())
    for sid in (kept, dropped):
        assert leases.acquire(sid, "a") is not None
    renewed = leases.renew("a", [kept])
    assert [lease.session_id for lease in renewed] == [kept]
    _wait_expired(leases, dropped)
    taken = leases.acquire(dropped, "b")
    assert taken is not None and taken.token == 2


def test_release_hands_over_at_once(engine: Engine) -> None:
    """A released lease is free for another replica immediately, without waiting for expiry."""
    leases = SqlLeaseStore(engine, duration=60)
    kept, handed = str(uuid.uuid4()), str(uuid.uuid4())
    for sid in (kept, handed):
        assert leases.acquire(sid, "a") is not None
    assert leases.release("a", [handed]) == 1
    taken = leases.acquire(handed, "b")
    assert taken is not None and taken.token == 2
    assert leases.acquire(kept, "b") is None
    assert leases.release("a") == 1  # all the rest
    assert leases.acquire(kept, "b") is not None


def test_a_stale_token_cannot_write_the_session(engine: Engine) -> None:
    """After a takeover the old owner's writes are refused, changing nothing; the new one's pass."""
    leases = SqlLeaseStore(engine, duration=60)
    sid = str(uuid.uuid4())
    held: dict[str, tuple[str, int]] = {}
    old_owner = SqlSessionStore(engine, fence=held.get)
    new_owner_held: dict[str, tuple[str, int]] = {}
    new_owner = SqlSessionStore(engine, fence=new_owner_held.get)
    old_owner.add(_record(sid))
    lease = leases.acquire(sid, "a")
    assert lease is not None
    held[sid] = ("a", lease.token)
    assert old_owner.update(sid, state="idle").state == "idle"
    leases.release("a", [sid])  # as if it expired while "a" was cut off
    taken = leases.acquire(sid, "b")
    assert taken is not None
    new_owner_held[sid] = ("b", taken.token)
    with pytest.raises(FencedError, match="no longer owned by replica a"):
        old_owner.update(sid, state="working")
    assert new_owner.update(sid, state="permission_prompt").state == "permission_prompt"
    got = new_owner.get(sid)
    assert got is not None and got.state == "permission_prompt"


def test_the_replica_list_names_live_replicas(engine: Engine) -> None:
    """Heartbeats put a replica (and its URL) on the list; forgetting removes it."""
    leases = SqlLeaseStore(engine, duration=30)
    leases.heartbeat("a", "http://127.0.0.1:1")
    leases.heartbeat("b", "http://127.0.0.1:2")
    leases.heartbeat("a", "http://127.0.0.1:3")
    assert leases.replicas() == {"a": "http://127.0.0.1:3", "b": "http://127.0.0.1:2"}
    leases.forget("b")
    assert leases.replicas() == {"a": "http://127.0.0.1:3"}
