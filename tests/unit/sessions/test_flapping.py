"""A screen that flaps is not news: repaints in pieces and drawings over the dialog.

Claude Code repaints its screen many times a second (the spinner, a running command's
output, a program the agent runs drawing on its terminal), and tmux and the attach
stream cut those repaints anywhere. The half-drawn screen in between is ``unknown`` to
the classifier. These tests feed such screens (the real CLI's frames, from
``fake_claude``) through the real controller: ``build_services`` over the in-memory
backend, the pump, the classifier, the settling, the manager and the ledger.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from audit.stores.base import EventFilter
from runner.core import SessionState
from runner.sandbox.memory import MemoryBackend
from runner.services import Services
from runner.sessions.requests import SessionRequest
from tests.unit.sessions.fake_claude import FakeClaude, bash_prompt_screen, working_screen
from tests.unit.sessions.test_lifecycle import ALICE, _reach, _run, _services, _until, _work

#: Claude Code's repaint rate while it animates (about 8 a second).
_REPAINT_SECONDS = 0.125


def _count(services: Services, session_id: str, event_type: str) -> int:
    return len(_data(services, session_id, event_type))


def _data(services: Services, session_id: str, event_type: str) -> list[dict[str, object]]:
    flt = EventFilter(session=session_id, type=event_type)
    return [dict(e.event.data) for e in services.ledger.query(flt, limit=10_000).entries]


async def _recorded(services: Services, session_id: str, event_type: str, count: int) -> None:
    async def there() -> bool:
        return await asyncio.to_thread(_count, services, session_id, event_type) >= count

    await _until(there)


async def _repaint_in_pieces(
    backend: MemoryBackend,
    box: str,
    screen: bytes,
    times: int,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """``times`` repaints of ``screen``, each arriving in two pieces a few ms apart (until
    ``stop`` says the CLI has moved on)."""
    half = len(screen) // 2
    for _ in range(times):
        if stop():
            return
        backend.write(box, screen[:half])
        await asyncio.sleep(0.003)
        backend.write(box, screen[half:])
        await asyncio.sleep(_REPAINT_SECONDS)


def test_a_prompt_repainted_in_pieces_is_announced_once_and_still_approved(
    tmp_path: Path,
) -> None:
    """Two seconds of a permission dialog repainted in pieces 8 times a second add no
    session.state and no second permission.asked; the prompt is then approved as usual."""

    async def scenario() -> None:
        backend = MemoryBackend()
        claude = FakeClaude(backend)
        async with _services(tmp_path, backend) as services:
            prompt = "[[bash: ls /tmp]]"
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt=prompt), ALICE
            )
            await _reach(services, record.id, SessionState.PERMISSION_PROMPT)
            await _recorded(services, record.id, "permission.asked", 1)
            await asyncio.sleep(0.5)  # the briefing's own states are recorded by now
            states = _data(services, record.id, "session.state")
            (box,) = backend.sandboxes
            screen = bash_prompt_screen(prompt, "ls /tmp", 1)
            await _repaint_in_pieces(backend, box, screen, 16)
            await asyncio.sleep(0.5)  # anything held back has settled by now
            assert _data(services, record.id, "session.state") == states
            assert _count(services, record.id, "permission.asked") == 1
            assert await services.manager.approve(record.id, ALICE) == 1
            await _reach(services, record.id, SessionState.IDLE)
            assert claude.ran == ["ls /tmp"]

    _run(scenario())


def test_a_spinner_repainted_in_pieces_stays_working(tmp_path: Path) -> None:
    """A working screen repainted in pieces stays ``working``: no ``unknown`` in between."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        async with _services(tmp_path, backend) as services:
            prompt = "build it [[hang]]"
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt=prompt), ALICE
            )
            await _reach(services, record.id, SessionState.WORKING)
            await asyncio.sleep(0.5)
            states = _count(services, record.id, "session.state")
            (box,) = backend.sandboxes
            await _repaint_in_pieces(backend, box, working_screen(prompt), 16)
            await asyncio.sleep(0.5)
            assert _count(services, record.id, "session.state") == states
            live = services.manager.live_view(record.id)
            assert live.observed.state == SessionState.WORKING

    _run(scenario())


def test_a_prompt_that_opens_amid_flapping_is_announced_at_once(tmp_path: Path) -> None:
    """A real prompt after a flapping spinner is still published and announced, within
    the settle time, and bound to the hook's request."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend, turn_seconds=1.2)  # the prompt opens while the spinner flaps
        async with _services(tmp_path, backend, state_settle_seconds=0.25) as services:
            prompt = "[[bash: echo hi]]"
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt=prompt), ALICE
            )
            await _reach(services, record.id, SessionState.WORKING)
            (box,) = backend.sandboxes
            live = services.manager.live_view(record.id)

            def opened() -> bool:
                return "Do you want to proceed?" in live.pane()

            flapping = asyncio.create_task(
                _repaint_in_pieces(backend, box, working_screen(prompt), 40, stop=opened)
            )
            await live.wait_for(lambda _o, _p: opened(), 5)
            shown = time.monotonic()
            await _reach(services, record.id, SessionState.PERMISSION_PROMPT)
            await _recorded(services, record.id, "permission.asked", 1)
            assert time.monotonic() - shown < 2.0  # settled, not lost (generous: shared CI)
            page = services.ledger.query(
                EventFilter(session=record.id, type="permission.asked"), limit=10
            )
            (asked,) = [e.event.data for e in page.entries]
            assert asked["prompt"]["command"] == "echo hi"
            assert asked["hook"]["tool_input"] == {"command": "echo hi"}
            await flapping

    _run(scenario())


def test_the_same_command_asked_again_is_announced_again(tmp_path: Path) -> None:
    """Approving a prompt, then the agent asking for the very same command: two prompts,
    two announcements, each bound to its own hook request."""

    async def scenario() -> None:
        backend = MemoryBackend()
        claude = FakeClaude(backend)
        async with _services(tmp_path, backend) as services:
            prompt = "[[bash: ls /tmp]]"
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt=prompt), ALICE
            )
            for n in (1, 2):
                await _reach(services, record.id, SessionState.PERMISSION_PROMPT)
                await _recorded(services, record.id, "permission.asked", n)
                assert await services.manager.approve(record.id, ALICE) == 1
                await _reach(services, record.id, SessionState.IDLE)
                if n == 1:
                    await services.manager.send(record.id, prompt, ALICE)
            assert claude.ran == ["ls /tmp", "ls /tmp"]
            page = services.ledger.query(
                EventFilter(session=record.id, type="permission.asked"), limit=10
            )
            requests = [e.event.data["hook"]["request"] for e in page.entries]
            assert len(requests) == 2 and requests[0] != requests[1]

    _run(scenario())


def test_moving_the_cursor_does_not_announce_the_prompt_again(tmp_path: Path) -> None:
    """Reject moves the cursor down three options: the prompt is announced once."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        async with _services(tmp_path, backend) as services:
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="[[bash: rm -r x]]"),
                ALICE,
            )
            await _reach(services, record.id, SessionState.PERMISSION_PROMPT)
            assert await services.manager.reject(record.id, ALICE) == 4
            await _reach(services, record.id, SessionState.IDLE)
            await asyncio.sleep(0.3)
            assert _count(services, record.id, "permission.asked") == 1

    _run(scenario())


def test_a_prompt_right_after_a_quick_turn_is_not_answered_by_a_retried_enter(
    tmp_path: Path,
) -> None:
    """Input sent right after a turn: the driver judges the screen as it is, not the state
    that is still settling, so no second Enter lands on the prompt that opens."""

    async def scenario() -> None:
        backend = MemoryBackend()
        claude = FakeClaude(backend)
        async with _services(tmp_path, backend) as services:
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="hello"), ALICE
            )
            await _reach(services, record.id, SessionState.IDLE)
            await services.manager.send(record.id, "[[bash: ls /tmp]]", ALICE)
            await _reach(services, record.id, SessionState.PERMISSION_PROMPT)
            await asyncio.sleep(1.0)
            live = services.manager.live_view(record.id)
            assert live.observed.state == SessionState.PERMISSION_PROMPT
            assert claude.ran == []
            enters = [k for c in backend.execs if c.argv[1] == "send-keys" for k in c.argv[4:]]
            assert enters.count("Enter") == 2

    _run(scenario())
