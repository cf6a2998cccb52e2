"""Two controller replicas on one PostgreSQL database and one (in-memory) sandbox engine.

Each replica is a full ``build_services``; they share the data directory, as replicas on
one host do. Only the container runtime is the ``MemoryBackend`` (shared, as one Docker
engine would be), with ``FakeClaude`` inside.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from runner.core import Actor, SessionState
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


def _work(root: Path) -> str:
    work = root / "work"
    work.mkdir(exist_ok=True)
    return str(work)


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
        backend = MemoryBackend()
        claude = FakeClaude(backend)
        try:
            async with (
                _replica(tmp_path, fresh_postgres_url, backend, "a") as a,
                _replica(tmp_path, fresh_postgres_url, backend, "b") as b,
            ):
                record, _ = await a.manager.create(
                    SessionRequest(work_dir=_work(tmp_path), prompt="hello"), ALICE
                )
                await _state(a, record.id, SessionState.IDLE)
                old = a.tenures.fence(record.id)
                assert old is not None and old[0] == "a"
                for task in a.tasks:  # A's lease loop stops, as if its database link broke
                    if task.get_name() == "session-leases":
                        task.cancel()
                cut = time.monotonic()

                async def owned_by_b() -> bool:
                    got = await b.manager.get(record.id, ALICE)
                    return got.replica == "b" and b.manager.runs_here(record.id)

                await _until(owned_by_b)
                assert time.monotonic() - cut >= 1.0  # only once A's lease ran out
                lease = await asyncio.to_thread(b.tenures.leases.get, record.id)
                assert lease is not None and lease.token == old[1] + 1
                assert not a.tenures.holds(record.id)  # A stopped trusting its lease first
                with pytest.raises(NotOwnerError):
                    await a.manager.send(record.id, "from a", ALICE)
                with pytest.raises(FencedError):
                    await asyncio.to_thread(a.store.update, record.id, state=SessionState.ERROR)
                await _state(b, record.id, SessionState.IDLE)
                await b.manager.send(record.id, "from b", ALICE)
                await _state(b, record.id, SessionState.IDLE)
                assert claude.prompts == ["hello", "from b"]
        finally:
            unmount_under(tmp_path)

    asyncio.run(scenario())
