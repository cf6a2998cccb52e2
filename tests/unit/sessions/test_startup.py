"""The startup breakdown: every step from the create request to idle, timed and kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runner.core import SessionState
from runner.sandbox.memory import MemoryBackend
from runner.sessions.requests import SessionRequest
from runner.sessions.startup import StartupClock
from tests.unit.sessions.fake_claude import FakeClaude
from tests.unit.sessions.test_lifecycle import ALICE, _reach, _services, _until, _work

STEPS = [
    "admitted",
    "queued",
    "workspace",
    "gateway and container created",
    "attached",
    "container started",
    "resized",
    "container recorded",
    "claude ready",
    "briefed",
]


def test_clock_steps_add_up_and_clamp_moments_in_the_past() -> None:
    """Steps are timed from the end of the one before; a step that ended before the last
    mark counts as zero; the total is the sum."""
    clock = StartupClock()
    clock.mark("a")
    clock.mark("b", at=0.0)  # long ago: clamped to the previous mark
    clock.note("moment", at=0.0)  # before the clock started: not this start's
    summary = clock.summary()
    assert summary["at"] == {}
    steps = summary["steps"]
    assert isinstance(steps, dict) and list(steps) == ["a", "b"] and steps["b"] == 0.0
    assert abs(summary["total"] - sum(steps.values())) < 0.001  # type: ignore[operator]


def test_ready_session_keeps_its_startup_breakdown(tmp_path: Path) -> None:
    """A session that reached idle has details.startup with every step in order, the
    moment of the terminal's first byte, and a total no smaller than the steps' sum."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        async with _services(tmp_path, backend) as services:
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="explain app.py"), ALICE
            )
            await _reach(services, record.id, SessionState.IDLE)

            async def recorded() -> bool:  # reads show the live state before it is stored
                return "startup" in (await services.manager.get(record.id, ALICE)).details

            await _until(recorded)
            startup = (await services.manager.get(record.id, ALICE)).details["startup"]
            assert list(startup["steps"]) == STEPS
            assert all(seconds >= 0 for seconds in startup["steps"].values())
            assert 0 < startup["at"]["first output"] <= startup["total"]
            assert startup["total"] >= sum(startup["steps"].values()) - 0.001

    asyncio.run(scenario())
