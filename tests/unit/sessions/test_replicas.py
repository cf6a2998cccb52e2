"""Two controller replicas on one PostgreSQL database and one (in-memory) sandbox engine.

Each replica is a full ``build_services``; they share the data directory, as replicas on
one host do. Only the container runtime is the ``MemoryBackend`` (shared, as one Docker
engine would be), with ``FakeClaude`` inside.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runner.core import Actor, SessionState
from runner.errors import ConflictError
from runner.sandbox.memory import MemoryBackend
from runner.services import Services, build_services
from runner.sessions.ownership import FencedError, NotOwnerError
from runner.sessions.requests import SessionRequest
from runner.settings import Settings
from tests.mounts import unmount_under
from tests.unit.sessions.fake_claude import FakeClaude

ALICE = Actor("alice", "default", frozenset({"operator", "approver", "viewer"}))


@asynccontextmanager
async def _replica(
    root: Path, url: str, backend: MemoryBackend, name: str, **overrides: Any
) -> AsyncIterator[Services]:
    settings = Settings(
        **{
            "data_dir": root / "data",
            "database_url": url,
            "workspace_roots": [root],
            "terminal_cols": 80,
            "terminal_rows": 24,
            "delivery_seconds": 0.9,
            "idle_settle_seconds": 0.1,
            "replica_id": name,
            "lease_seconds": 2.0,
            "lease_renew_seconds": 0.25,
            **overrides,
        }
    )
    services = await build_services(settings, backend=backend)
    try:
        await services.start()
        yield services
    finally:
        await services.close()


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def _state(services: Services, session_id: str, *states: SessionState) -> None:
    async def reached() -> bool:
        return (await services.manager.get(session_id, ALICE)).state in states

    await _until(reached)


@contextmanager
def _hung(url: str, *tables: str) -> Iterator[psycopg.Connection[Any]]:
    """The database stops answering writes to ``tables`` (no error: they wait) until exit.

    A network that drops packets looks like this to a replica: its statements never come
    back. Reads still answer, so the test can look at the rows meanwhile.
    """
    with psycopg.connect(url) as conn:
        conn.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")
        yield conn
        conn.rollback()


def _expiry(conn: psycopg.Connection[Any], session_id: str) -> datetime:
    row = conn.execute(
        "SELECT expires_at FROM session_leases WHERE session_id = %s", (session_id,)
    ).fetchone()
    assert row is not None
    expires: datetime = row[0]
    return expires


async def _new_owner(replicas: list[Services], session_id: str, token: int) -> Services:
    """The replica running the session under a lease newer than ``token`` (the one cut off
    may take it back, too, once it can reach the database again)."""
    found: list[Services] = []

    async def owned() -> bool:
        lease = await asyncio.to_thread(replicas[0].tenures.leases.get, session_id)
        if lease is None or lease.token <= token:
            return False
        found[:] = [r for r in replicas if r.tenures.replica == lease.owner]
        return bool(found) and found[0].manager.runs_here(session_id)

    await _until(owned, seconds=30)  # a bound: the lease must expire, then a round run
    return found[0]


def _work(root: Path) -> str:
    work = root / "work"
    work.mkdir(exist_ok=True)
    return str(work)


@dataclass
class _Pair:
    """Replicas A and B on one database and one sandbox engine, and a session A owns."""

    a: Services
    b: Services
    claude: FakeClaude
    session_id: str
    token: int  # A's lease token for it


@asynccontextmanager
async def _owned_by_a(
    root: Path, url: str, prompt: str, state: SessionState
) -> AsyncIterator[_Pair]:
    """Two replicas; A creates a session with ``prompt`` and it reaches ``state``."""
    backend = MemoryBackend()
    claude = FakeClaude(backend)
    try:
        async with (
            _replica(root, url, backend, "a") as a,
            _replica(root, url, backend, "b") as b,
        ):
            record, _ = await a.manager.create(
                SessionRequest(work_dir=_work(root), prompt=prompt), ALICE
            )
            await _state(a, record.id, state)
            fence = a.tenures.fence(record.id)
            assert fence is not None and fence[0] == "a"
            yield _Pair(a, b, claude, record.id, fence[1])
    finally:
        unmount_under(root)


def _cut_off(services: Services) -> None:
    """The replica's lease loop stops, as if its database link broke."""
    for task in services.tasks:
        if task.get_name() == "session-leases":
            task.cancel()


def test_the_owner_acts_others_refuse_and_a_graceful_stop_hands_over(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    """A creates and owns; B names A as owner; A stops: B takes over at once, input once."""

    async def scenario() -> None:
        backend = MemoryBackend()
        claude = FakeClaude(backend)
        try:
            async with _replica(tmp_path, fresh_postgres_url, backend, "b") as b:
                async with _replica(tmp_path, fresh_postgres_url, backend, "a") as a:
                    record, _ = await a.manager.create(
                        SessionRequest(work_dir=_work(tmp_path), prompt="hello"), ALICE
                    )
                    await _state(a, record.id, SessionState.IDLE)
                    seen = await b.manager.get(record.id, ALICE)
                    assert seen.replica == "a" and seen.lease_expires_at is not None
                    with pytest.raises(NotOwnerError) as refused:
                        await b.manager.send(record.id, "twice?", ALICE)
                    assert refused.value.owner == "a"
                    assert (a.ledger.is_sequencer, b.ledger.is_sequencer) == (False, True)
                stopped = time.monotonic()  # A has handed over: no waiting for expiry

                async def owned_by_b() -> bool:
                    got = await b.manager.get(record.id, ALICE)
                    return got.replica == "b" and b.manager.runs_here(record.id)

                await _until(owned_by_b)
                assert time.monotonic() - stopped < 1.5  # well before the 2 s lease
                await _state(b, record.id, SessionState.IDLE)
                await b.manager.send(record.id, "again", ALICE)
                await _state(b, record.id, SessionState.IDLE)
                assert claude.prompts == ["hello", "again"]
        finally:
            unmount_under(tmp_path)

    asyncio.run(scenario())


def test_a_replica_that_stops_renewing_is_fenced_and_its_sessions_taken_over(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    """A's renewals stop (cut off): after the lease B owns the session with a higher token,
    A refuses input at once and the store refuses A's writes."""

    async def scenario() -> None:
        idle = SessionState.IDLE
        async with _owned_by_a(tmp_path, fresh_postgres_url, "hello", idle) as pair:
            a, b, sid = pair.a, pair.b, pair.session_id
            _cut_off(a)
            cut = time.monotonic()

            async def owned_by_b() -> bool:
                got = await b.manager.get(sid, ALICE)
                return got.replica == "b" and b.manager.runs_here(sid)

            await _until(owned_by_b)
            assert time.monotonic() - cut >= 1.0  # only once A's lease ran out
            lease = await asyncio.to_thread(b.tenures.leases.get, sid)
            assert lease is not None and lease.token == pair.token + 1
            assert not a.tenures.holds(sid)  # A stopped trusting its lease first
            with pytest.raises(NotOwnerError):
                await a.manager.send(sid, "from a", ALICE)
            with pytest.raises(FencedError):
                await asyncio.to_thread(a.store.update, sid, state=SessionState.ERROR)
            await _state(b, sid, idle)
            await b.manager.send(sid, "from b", ALICE)
            await _state(b, sid, idle)
            assert pair.claude.prompts == ["hello", "from b"]

    asyncio.run(scenario())


def test_a_replica_whose_database_hangs_lets_go_before_its_lease_can_be_taken(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    """A's lease writes hang (no error, no answer): A detaches the session at its own trust
    deadline, before the lease expires in the database; then it is taken over, token + 1."""

    async def scenario() -> None:
        idle = SessionState.IDLE
        async with _owned_by_a(tmp_path, fresh_postgres_url, "hello", idle) as pair:
            a, b, sid = pair.a, pair.b, pair.session_id
            # Renewals and heartbeats wait forever: A's lease round is stuck in them.
            with _hung(fresh_postgres_url, "session_leases", "replicas") as conn:
                expires = _expiry(conn, sid)

                async def detached() -> bool:
                    return not a.manager.runs_here(sid)

                await _until(detached, seconds=5)
                let_go = datetime.now(UTC)
                assert let_go < expires, (let_go, expires)  # nobody could have it yet
                assert not a.tenures.holds(sid)
                with pytest.raises(ConflictError):  # A types nothing more into it
                    await a.manager.send(sid, "from a", ALICE)
            owner = await _new_owner([b, a], sid, pair.token)
            lease = await asyncio.to_thread(b.tenures.leases.get, sid)
            assert lease is not None and lease.token == pair.token + 1
            await _state(owner, sid, idle)
            await owner.manager.send(sid, "again", ALICE)
            await _state(owner, sid, idle)
            assert pair.claude.prompts == ["hello", "again"]

    asyncio.run(scenario())


def test_an_action_whose_audit_write_outlasts_the_lease_types_nothing(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    """A accepts input, then its audit write hangs past its lease: once the write goes
    through A types nothing (fenced), even if A took the session back meanwhile; the new
    tenure delivers the retry, once."""

    async def scenario() -> None:
        idle = SessionState.IDLE
        async with _owned_by_a(tmp_path, fresh_postgres_url, "hello", idle) as pair:
            a, b, sid = pair.a, pair.b, pair.session_id
            assert a.ledger.is_sequencer  # A's own appends go straight to audit_events
            tables = ("audit_events", "session_leases", "replicas")
            with _hung(fresh_postgres_url, *tables) as conn:
                expires = _expiry(conn, sid)
                sending = asyncio.create_task(a.manager.send(sid, "once", ALICE))
                await asyncio.sleep(0.3)
                assert not sending.done()  # past the owner check, waiting on the ledger

                async def detached() -> bool:
                    return not a.manager.runs_here(sid)

                await _until(detached, seconds=10)
                # Until anyone may be given the lease.
                await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()))
            with pytest.raises(FencedError):
                await sending  # its audit event went in; its keys did not
            assert pair.claude.prompts == ["hello"]
            owner = await _new_owner([b, a], sid, pair.token)
            await _state(owner, sid, idle)
            await owner.manager.send(sid, "once", ALICE)
            await _state(owner, sid, idle)
            assert pair.claude.prompts == ["hello", "once"]

    asyncio.run(scenario())


def test_a_prompt_open_when_its_owner_is_cut_off_is_approved_by_the_new_owner(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    """A shows a permission prompt and stops renewing: B takes the session over and can
    approve that prompt (the hook's pending ask, read back from the ledger), once."""

    async def scenario() -> None:
        asking = SessionState.PERMISSION_PROMPT
        prompt = "[[bash: ls -la /tmp]]"
        async with _owned_by_a(tmp_path, fresh_postgres_url, prompt, asking) as pair:
            a, b, sid = pair.a, pair.b, pair.session_id
            _cut_off(a)
            assert await _new_owner([b, a], sid, pair.token) is b  # A renews nothing
            await _state(b, sid, asking)
            assert await b.manager.approve(sid, ALICE) == 1
            await _state(b, sid, SessionState.IDLE)
            assert pair.claude.ran == ["ls -la /tmp"]

    asyncio.run(scenario())
