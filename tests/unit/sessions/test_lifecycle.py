"""The session lifecycle over the in-memory backend: no Docker, the real everything else.

The services come from ``build_services`` (SQLite store, audit ledger, policy gate,
gateways on unix sockets); only the container runtime is the ``MemoryBackend``, and the
process inside it is ``FakeClaude``, which paints the real CLI's screens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from audit.stores.base import EventFilter
from runner.core import Actor, SessionState
from runner.errors import ConflictError, ImageNotFoundError
from runner.sandbox.memory import MemoryBackend
from runner.services import Services, build_services
from runner.sessions.requests import SessionRequest
from runner.settings import Settings
from tests.mounts import unmount_under
from tests.unit.sessions.fake_claude import FakeClaude

ALICE = Actor("alice", "default", frozenset({"operator", "approver", "viewer"}))


def _settings(root: Path, **overrides: Any) -> Settings:
    return Settings(
        **{
            "data_dir": root / "data",
            "workspace_roots": [root],
            "terminal_cols": 80,
            "terminal_rows": 24,
            "delivery_seconds": 0.9,
            "idle_settle_seconds": 0.1,
            **overrides,
        }
    )


@asynccontextmanager
async def _services(
    root: Path, backend: MemoryBackend, **overrides: Any
) -> AsyncIterator[Services]:
    services = await build_services(_settings(root, **overrides), backend=backend)
    try:
        await services.start()
        yield services
    finally:
        await services.close()
        unmount_under(root)  # the sessions' quota volumes (the default policy sets a disk)


def _work(root: Path) -> Path:
    work = root / "work"
    work.mkdir(exist_ok=True)
    (work / "app.py").write_text("print('hi')\n")
    return work


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def _reach(services: Services, session_id: str, *states: SessionState) -> None:
    async def reached() -> bool:
        return (await services.manager.get(session_id, ALICE)).state in states

    await _until(reached)


def _events(services: Services, session_id: str) -> list[str]:
    page = services.ledger.query(EventFilter(session=session_id), limit=1000)
    return [e.event.type for e in page.entries]


def _keys(backend: MemoryBackend) -> list[str]:
    """Every key pressed through ``tmux send-keys``, in order."""
    return [key for c in backend.execs if c.argv[1] == "send-keys" for key in c.argv[4:]]


def _run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_create_briefs_the_first_prompt_then_reports_idle(tmp_path: Path) -> None:
    """A new session shows starting until its prompt is typed and taken, then idle; every
    step is in the ledger in order."""

    async def scenario() -> None:
        backend = MemoryBackend()
        claude = FakeClaude(backend)
        async with _services(tmp_path, backend) as services:
            record, reused = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="explain app.py"), ALICE
            )
            assert not reused and record.state == SessionState.STARTING
            await _reach(services, record.id, SessionState.IDLE)
            assert claude.prompts == ["explain app.py"]
            buffers = [c.argv[-1] for c in backend.execs if c.argv[1] == "set-buffer"]
            assert buffers == ["explain app.py"]
            types = _events(services, record.id)
            assert types[:3] == ["session.created", "container.started", "input.sent"]
            assert "session.state" in types
            (sandbox,) = backend.sandboxes.values()
            assert sandbox.status == "running" and sandbox.spec.cols == 80

    _run(scenario())


def test_enter_is_pressed_again_only_while_the_text_still_waits(tmp_path: Path) -> None:
    """A CLI that swallows the first Enter still gets the prompt, exactly once."""

    async def scenario() -> None:
        backend = MemoryBackend()
        claude = FakeClaude(backend, ignore_enters=1)
        async with _services(tmp_path, backend) as services:
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="hello"), ALICE
            )
            await _reach(services, record.id, SessionState.IDLE)
            assert claude.prompts == ["hello"]
            assert _keys(backend).count("Enter") == 2

    _run(scenario())


def test_a_prompt_the_agent_never_takes_fails_the_session(tmp_path: Path) -> None:
    """Typed but never taken (Enter tried three times): the session fails with that reason
    instead of hanging, and no other key was pressed."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend, accepts_prompts=False)
        async with _services(tmp_path, backend) as services:
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="hello"), ALICE
            )
            await _reach(services, record.id, SessionState.ERROR)
            stored = await asyncio.to_thread(services.store.get, record.id)
            assert stored is not None
            assert stored.error == "the prompt was typed but the agent did not take it"
            assert _keys(backend) == ["Enter", "Enter", "Enter"]

    _run(scenario())


def test_approve_picks_the_one_time_yes_and_reject_picks_no(tmp_path: Path) -> None:
    """Approve selects option 1 (never "always allow"); reject moves to "No"; both are
    recorded with the prompt they answered."""

    async def scenario() -> None:
        backend = MemoryBackend()
        claude = FakeClaude(backend)
        async with _services(tmp_path, backend) as services:
            manager = services.manager
            record, _ = await manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="[[bash: ls -la /tmp]]"),
                ALICE,
            )
            await _reach(services, record.id, SessionState.PERMISSION_PROMPT)
            assert await manager.approve(record.id, ALICE) == 1
            await _reach(services, record.id, SessionState.IDLE)
            assert claude.ran == ["ls -la /tmp"]

            await manager.send(record.id, "[[bash: echo nope]]", ALICE)
            await _reach(services, record.id, SessionState.PERMISSION_PROMPT)
            assert await manager.reject(record.id, ALICE) == 4
            await _reach(services, record.id, SessionState.IDLE)
            assert claude.ran == ["ls -la /tmp"]
            assert _keys(backend)[-4:] == ["Down", "Down", "Down", "Enter"]
            page = services.ledger.query(EventFilter(type="permission.decided"), limit=10)
            decided = [(e.event.data["decision"], e.event.actor) for e in page.entries]
            assert decided == [("approve", "alice"), ("reject", "alice")]

    _run(scenario())


def test_approving_what_the_policy_denies_is_refused(tmp_path: Path) -> None:
    """A prompt whose command the policy denies cannot be approved: 403 with the rule,
    no key pressed, and the refusal audited."""

    async def scenario() -> None:
        backend = MemoryBackend()
        claude = FakeClaude(backend)
        async with _services(tmp_path, backend) as services:
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="[[bash: sudo ls]]"), ALICE
            )
            await _reach(services, record.id, SessionState.PERMISSION_PROMPT)
            keys_before = len(_keys(backend))
            # The hook denied the call: no ask is pending, so a prompt for it on screen
            # is not one the hook waits on (the agent drew it), and cannot be approved.
            with pytest.raises(ConflictError):
                await services.manager.approve(record.id, ALICE)
            assert len(_keys(backend)) == keys_before and claude.ran == []
            assert "screen.mismatch" in _events(services, record.id)

    _run(scenario())


def test_a_session_working_without_screen_changes_becomes_stalled(tmp_path: Path) -> None:
    """Working with no screen change for ``stall_seconds`` is ``stalled``, decided by time."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        async with _services(tmp_path, backend, stall_seconds=0.3) as services:
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="[[hang]]"), ALICE
            )
            await _reach(services, record.id, SessionState.STALLED)
            got = await services.manager.get(record.id, ALICE)
            assert got.details["secondsWithoutChange"] >= 0

    _run(scenario())


def test_a_restarted_controller_readopts_running_sessions(tmp_path: Path) -> None:
    """After a restart the session is watched again (redrawn by a resize there and back);
    a session whose container vanished is marked failed."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        async with _services(tmp_path, backend) as services:
            kept, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="hello"), ALICE
            )
            await _reach(services, kept.id, SessionState.IDLE)
            other = tmp_path / "other"
            other.mkdir()
            gone, _ = await services.manager.create(SessionRequest(work_dir=str(other)), ALICE)
            await _reach(services, gone.id, SessionState.IDLE)
        # The controller stopped; its containers run on. One of them disappears.
        gone_container = next(
            s.id for s in backend.sandboxes.values() if s.spec.session_id == gone.id
        )
        await backend.remove(gone_container)
        kept_sandbox = next(s for s in backend.sandboxes.values() if s.spec.session_id == kept.id)
        kept_sandbox.resizes.clear()
        async with _services(tmp_path, backend) as services:
            assert kept_sandbox.resizes == [(79, 24), (80, 24)]
            await _reach(services, kept.id, SessionState.IDLE)
            record = await asyncio.to_thread(services.store.get, gone.id)
            assert record is not None
            assert record.state == SessionState.ERROR
            assert record.error == "the container was gone after a restart"
            await services.manager.send(kept.id, "again", ALICE)
            await _reach(services, kept.id, SessionState.IDLE)

    _run(scenario())


def test_a_failed_start_is_logged_and_audited(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A start that fails (the image vanished after admission) ends in ``error`` with the
    reason, in the store, in the ledger and in the log."""

    async def scenario() -> None:
        backend = MemoryBackend(images=frozenset({"warden-sandbox:latest"}))
        async with _services(tmp_path, backend) as services:
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="hi"), ALICE
            )
            backend.images = frozenset()  # removed before the container is created
            await _reach(services, record.id, SessionState.ERROR)
            stored = await asyncio.to_thread(services.store.get, record.id)
            assert stored is not None and "run: warden image build" in (stored.error or "")
            assert _events(services, record.id)[-2:] == ["session.error", "session.ended"]

    with caplog.at_level(logging.ERROR, logger="runner.sessions.manager"):
        _run(scenario())
    assert any("failed to start" in r.message for r in caplog.records)


def test_a_store_that_refuses_the_error_state_does_not_cost_the_audit_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When the store cannot record a failure, the ledger still gets ``session.error``
    and the log says what could not be stored."""

    async def scenario() -> None:
        backend = MemoryBackend(images=frozenset({"warden-sandbox:latest"}))
        async with _services(tmp_path, backend) as services:
            with services.engine.begin() as conn:
                conn.execute(
                    text(
                        "CREATE TRIGGER refuse_updates BEFORE UPDATE ON sessions"
                        " BEGIN SELECT RAISE(ABORT, 'the disk says no'); END"
                    )
                )
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="hi"), ALICE
            )
            backend.images = frozenset()  # the start fails

            async def logged() -> bool:
                return any("could not store its error state" in r.message for r in caplog.records)

            await _until(logged)
            assert "session.error" in _events(services, record.id)
            stored = await asyncio.to_thread(services.store.get, record.id)
            assert stored is not None and stored.state == SessionState.STARTING

    with caplog.at_level(logging.ERROR, logger="runner.sessions.manager"):
        _run(scenario())


def test_a_missing_image_is_refused_at_creation_and_nothing_starts(tmp_path: Path) -> None:
    """An image the engine does not hold: ImageNotFoundError at create (a 424), naming its
    build; no session record, no session.created."""

    async def scenario() -> None:
        backend = MemoryBackend(images=frozenset({"warden-sandbox:latest"}))
        async with _services(tmp_path, backend) as services:
            request = SessionRequest(work_dir=str(_work(tmp_path)), image="warden-sandbox:go")
            with pytest.raises(ImageNotFoundError, match="warden-sandbox:go is not on this"):
                await services.manager.create(request, ALICE)
            assert await services.manager.list_sessions(ALICE) == []
            assert backend.sandboxes == {}

    _run(scenario())


def test_the_container_runs_the_image_id_that_was_admitted(tmp_path: Path) -> None:
    """The container is created from the resolved image id, and container.started names it."""

    async def scenario() -> None:
        backend = MemoryBackend()
        async with _services(tmp_path, backend) as services:
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), image="warden-sandbox:python"),
                ALICE,
            )

            async def started() -> bool:
                return "container.started" in _events(services, record.id)

            await _until(started)
            [sandbox] = backend.sandboxes.values()
            assert sandbox.spec.image == MemoryBackend.image_id("warden-sandbox:python")
            page = services.ledger.query(EventFilter(session=record.id, type="container.started"))
            data = page.entries[0].event.data
            assert data["image"] == "warden-sandbox:python"
            assert data["imageId"] == MemoryBackend.image_id("warden-sandbox:python")

    _run(scenario())


def test_reuse_by_default_is_a_setting_and_a_request_may_refuse_it(tmp_path: Path) -> None:
    """With ``reuse_sessions`` on, a request that does not say gets the idle session it
    matches; ``reuse=False`` still starts one; a request differing in a field starts one."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        async with _services(tmp_path, backend, reuse_sessions=True) as services:
            manager = services.manager
            work = str(_work(tmp_path))
            first, reused = await manager.create(SessionRequest(work_dir=work), ALICE)
            assert not reused
            await _reach(services, first.id, SessionState.IDLE)
            again, reused = await manager.create(SessionRequest(work_dir=work), ALICE)
            assert reused and again.id == first.id
            fresh, reused = await manager.create(SessionRequest(work_dir=work, reuse=False), ALICE)
            assert not reused and fresh.id != first.id
            other, reused = await manager.create(
                SessionRequest(work_dir=work, env={"TZ": "UTC"}), ALICE
            )
            assert not reused and other.id not in (first.id, fresh.id)

    _run(scenario())


def test_without_the_setting_a_request_that_does_not_say_starts_a_session(
    tmp_path: Path,
) -> None:
    """Reuse is opt-in by default: the same request twice starts two sessions."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        async with _services(tmp_path, backend) as services:
            work = str(_work(tmp_path))
            first, _ = await services.manager.create(SessionRequest(work_dir=work), ALICE)
            await _reach(services, first.id, SessionState.IDLE)
            second, reused = await services.manager.create(SessionRequest(work_dir=work), ALICE)
            assert not reused and second.id != first.id

    _run(scenario())
