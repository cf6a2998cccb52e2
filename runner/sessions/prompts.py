"""Answering what the agent asks: permission prompts and questions.

Each answer is recorded before the key is pressed (if the ledger cannot record it, no
key is pressed), and is confirmed by the screen moving on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from runner.core import WAITING_STATES, Actor, EventSink, SessionState
from runner.errors import ConflictError
from runner.sessions.choices import (
    answer_option,
    approve_option,
    free_text_option,
    reject_option,
)
from runner.sessions.live import Observed
from runner.sessions.runtime import Running
from runner.terminal.keys import Key

_MOVE_ON_SECONDS = 10.0
_RETRY_SECONDS = 1.5
_ENTER_ATTEMPTS = 3
_DIALOG_SETTLE_SECONDS = 0.5
#: How long an answer waits for the screen to agree with the session's state.
_STEADY_SECONDS = 2.0


#: Says whether the prompt on screen is the one an answer was meant for.
PromptCheck = Callable[[Mapping[str, Any]], bool]


async def approve(
    running: Running,
    events: EventSink,
    session: str,
    actor: Actor,
    *,
    rule: str | None = None,
    expect: PromptCheck | None = None,
    bound: Mapping[str, Any] | None = None,
) -> int:
    """Pick the narrowest "Yes" of the permission prompt on screen; return its number.

    ``bound`` is the hook request approved (id, tool name and input): what the ledger
    says was approved, since the screen is only what the agent's terminal showed.
    """
    async with running.lock:
        details = await _current(running, SessionState.PERMISSION_PROMPT, "approve", expect)
        option = approve_option(details)
        await events.emit(
            "permission.decided",
            actor=actor,
            session=session,
            data={
                "decision": "approve",
                "option": option,
                "prompt": dict(details),
                "rule": rule,
                **(bound or {}),
            },
        )
        await _choose(running, details, option)
        return option


async def reject(
    running: Running,
    events: EventSink,
    session: str,
    actor: Actor,
    *,
    rule: str | None = None,
    expect: PromptCheck | None = None,
    bound: Mapping[str, Any] | None = None,
    escape: bool = False,
) -> int | None:
    """Pick the "No" option (or press Esc when there is none, or ``escape`` says so)."""
    async with running.lock:
        details = await _current(running, SessionState.PERMISSION_PROMPT, "reject", expect)
        option = None if escape else reject_option(details)
        await events.emit(
            "permission.decided",
            actor=actor,
            session=session,
            data={
                "decision": "reject",
                "option": option,
                "prompt": dict(details),
                "rule": rule,
                **(bound or {}),
            },
        )
        if option is None:
            await _let_dialog_settle(running)
            await running.driver.keys(Key.ESCAPE)
            await _await_move_on(running, details)
        else:
            await _choose(running, details, option)
        return option


async def answer(
    running: Running,
    events: EventSink,
    session: str,
    actor: Actor,
    *,
    option: int | None,
    text: str | None,
) -> None:
    """Answer the question on screen with option N (1-based) or a free text."""
    async with running.lock:
        details = await _current(running, SessionState.ASKING, "answer")
        if option is not None:
            chosen = answer_option(details, option)
        else:
            free = free_text_option(details)
            if free is None:
                raise ConflictError("this question offers no free-text answer; pick an option")
            chosen = free
        await events.emit(
            "question.answered",
            actor=actor,
            session=session,
            data={"option": option, "text": text, "question": dict(details)},
        )
        if text is None:
            await _choose(running, details, chosen)
            return
        await _let_dialog_settle(running)
        await _select(running, details, chosen)
        await running.driver.paste(text)
        await running.driver.keys(Key.ENTER)
        await _await_move_on(running, details)


async def escape(
    running: Running, events: EventSink, session: str, actor: Actor, *, interrupt: bool
) -> None:
    """Press Esc: interrupts work, or cancels a prompt or question."""
    async with running.lock:
        state = running.live.observed.state
        if interrupt and state not in (SessionState.WORKING, SessionState.STALLED):
            raise ConflictError(
                f"cannot interrupt: the session is {state}, not working", details={"state": state}
            )
        await events.emit(
            "input.key",
            actor=actor,
            session=session,
            data={"key": "Escape", "interrupt": interrupt},
        )
        await running.driver.keys(Key.ESCAPE)


async def _current(
    running: Running, state: SessionState, action: str, expect: PromptCheck | None = None
) -> Mapping[str, Any]:
    # The state is what the screen showed once it settled; a key is meant for what the
    # screen shows now. When the two differ (another screen is settling), wait until
    # they agree, and refuse rather than press a key into a screen not yet judged.
    if not await running.live.steady(_STEADY_SECONDS):
        raise ConflictError(
            f"cannot {action}: the screen keeps changing; try again",
            details={"state": running.live.observed.state},
        )
    observed = running.live.observed
    if observed.state != state:
        raise ConflictError(
            f"cannot {action}: the session is {observed.state}, not {state}",
            details={"state": observed.state},
        )
    if expect is not None and not expect(observed.details):
        # Checked under the session's lock: no other prompt can be answered by mistake.
        raise ConflictError(f"cannot {action}: another prompt is on screen now")
    return observed.details


async def _select(running: Running, details: Mapping[str, Any], option: int) -> None:
    """Move the cursor to ``option`` with the arrow keys (no submit)."""
    selected = int(details.get("selected") or 1)
    key = Key.DOWN if option > selected else Key.UP
    for _ in range(abs(option - selected)):
        await running.driver.keys(key)


async def _choose(running: Running, details: Mapping[str, Any], option: int) -> None:
    """Select ``option`` and press Enter until the prompt goes away.

    Claude Code ignores keys for a moment after a dialog opens (so that type-ahead cannot
    answer it). Enter is pressed again only while the very same prompt is still on
    screen, so a retry can never answer a different, later prompt.
    """
    await _let_dialog_settle(running)
    await _select(running, details, option)
    for _attempt in range(_ENTER_ATTEMPTS - 1):
        await running.driver.keys(Key.ENTER)
        if await _moved_on(running, details, _RETRY_SECONDS):
            return
        if _identity(running.live.screen_now.details) != _identity(details):
            break
        await _select(running, running.live.screen_now.details, option)
    await running.driver.keys(Key.ENTER)
    await _await_move_on(running, details)


async def _let_dialog_settle(running: Running) -> None:
    age = running.live.state_age()
    if age < _DIALOG_SETTLE_SECONDS:
        await asyncio.sleep(_DIALOG_SETTLE_SECONDS - age)


async def _moved_on(running: Running, details: Mapping[str, Any], seconds: float) -> bool:
    before = _identity(details)

    def moved(_observed: Observed, _pane: str) -> bool:
        now = running.live.screen_now  # what the screen shows, not the state it settles to
        return now.state not in WAITING_STATES or _identity(now.details) != before

    return await running.live.wait_for(moved, seconds)


async def _await_move_on(running: Running, details: Mapping[str, Any]) -> None:
    if not await _moved_on(running, details, _MOVE_ON_SECONDS):
        raise ConflictError(
            "the answer was sent but the prompt is still on screen",
            details={"state": running.live.observed.state},
        )


def _identity(details: Mapping[str, Any]) -> dict[str, Any]:
    """A prompt's content without the cursor position, which moves as we select."""
    return {k: v for k, v in details.items() if k != "selected"}
