"""A policy's container runtime at admission: used when the engine has it, refused when not."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runner.core import SessionState, WorkspaceMode
from runner.errors import RuntimeUnavailableError
from runner.sandbox.memory import MemoryBackend
from runner.sessions.requests import SessionRequest
from tests.unit.sessions.fake_claude import FakeClaude
from tests.unit.sessions.test_lifecycle import ALICE, _reach, _run, _services, _work


def _strict(root: Path) -> SessionRequest:
    return SessionRequest(
        work_dir=str(_work(root)), policy="strict", workspace_mode=WorkspaceMode.RO
    )


def test_a_runsc_policy_runs_its_container_under_runsc(tmp_path: Path) -> None:
    """strict's session is created with runtime runsc when the engine has it."""

    async def scenario() -> None:
        backend = MemoryBackend(runtimes=frozenset({"runc", "runsc"}))
        FakeClaude(backend)
        async with _services(tmp_path, backend) as services:
            record, _ = await services.manager.create(_strict(tmp_path), ALICE)
            await _reach(services, record.id, SessionState.IDLE)
            (sandbox,) = backend.sandboxes.values()
            assert sandbox.spec.runtime == "runsc"

    _run(scenario())


def test_a_missing_runtime_refuses_the_session_before_anything_runs(tmp_path: Path) -> None:
    """No runsc in the engine: create fails at once naming runsc and the fix; no container,
    no stored session, and never a fallback to runc."""

    async def scenario() -> None:
        backend = MemoryBackend(runtimes=frozenset({"runc"}))
        async with _services(tmp_path, backend) as services:
            with pytest.raises(RuntimeUnavailableError) as info:
                await services.manager.create(_strict(tmp_path), ALICE)
            assert "'runsc'" in info.value.message
            assert "scripts/setup --gvisor" in info.value.message
            assert info.value.details["policy"] == "strict"
            assert backend.sandboxes == {}
            assert await asyncio.to_thread(services.store.find, tenant=None) == []

    _run(scenario())
