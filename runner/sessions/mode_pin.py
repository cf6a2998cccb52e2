"""The permission mode the policy set is pinned: a mode change on screen is a violation.

Claude Code can change its permission mode from the keyboard (Shift+Tab cycles through
manual, accept edits, plan …). Whoever managed that (a key that slipped through, the
terminal WebSocket) would have the agent run edits nobody is asked about, so the
controller audits it as ``policy.violation`` and, as the policy's ``input.mode_change``
says, cycles back to the session's mode or ends the session. A mode it cannot restore
also ends the session: fail closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from runner.core import Actor, EventSink, PermissionMode
from runner.sessions.live import Observed
from runner.sessions.runtime import Running

log = logging.getLogger(__name__)

#: How Claude Code's footer names each mode (``⏸ manual mode on``, ``⏵⏵ accept edits on``).
MODE_LABELS: Mapping[PermissionMode, str] = {
    PermissionMode.DEFAULT: "manual",
    PermissionMode.ACCEPT_EDITS: "accept edits",
    PermissionMode.PLAN: "plan",
    PermissionMode.BYPASS_PERMISSIONS: "bypass permissions",
    PermissionMode.AUTO: "auto",
}
_CYCLE_PRESSES = 6  # more than there are modes in the Shift+Tab cycle
_PRESS_SECONDS = 2.0


def mode_changed(pinned: PermissionMode, details: Mapping[str, Any]) -> str | None:
    """The mode the screen shows when it is not the pinned one, else None."""
    shown = str(details.get("mode") or "")
    expected = MODE_LABELS.get(pinned)
    if not shown or expected is None or shown == expected:
        return None
    return shown


class ModePin:
    """Audits mode changes of running sessions and restores or ends them."""

    def __init__(self, events: EventSink) -> None:
        self._events = events
        self._busy: dict[str, asyncio.Task[None]] = {}

    def check(
        self, session_id: str, pinned: PermissionMode, how: str, running: Running, seen: Observed
    ) -> None:
        """Start handling a mode change seen on screen (once at a time per session)."""
        shown = mode_changed(pinned, seen.details)
        if shown is None or session_id in self._busy:
            return
        task = asyncio.create_task(self._handle(session_id, pinned, how, running, shown))
        self._busy[session_id] = task
        task.add_done_callback(lambda _t: self._busy.pop(session_id, None))

    def forget(self, session_id: str) -> None:
        task = self._busy.pop(session_id, None)
        if task is not None:
            task.cancel()

    async def _handle(
        self, session_id: str, pinned: PermissionMode, how: str, running: Running, shown: str
    ) -> None:
        expected = MODE_LABELS[pinned]
        data = {"rule": "input.mode_change", "expected": expected, "shown": shown, "action": how}
        try:
            await self._events.emit(
                "policy.violation", actor=Actor.system(), session=session_id, data=data
            )
            if how == "restore" and await self._restore(running, pinned):
                await self._events.emit(
                    "permission.mode_restored",
                    actor=Actor.system(),
                    session=session_id,
                    data={"mode": expected},
                )
                return
            await self._events.emit(
                "session.ending",
                actor=Actor.system(),
                session=session_id,
                data={"reason": "permission mode changed", "shown": shown},
            )
            await running.driver.kill()
        except Exception:
            log.exception("session %s: could not handle a permission mode change", session_id)
            await running.driver.kill()

    async def _restore(self, running: Running, pinned: PermissionMode) -> bool:
        expected = MODE_LABELS[pinned]
        async with running.lock:
            for _press in range(_CYCLE_PRESSES):
                if mode_changed(pinned, running.live.screen_now.details) is None:
                    return True
                before = running.live.screen_now.details.get("mode")
                await running.driver.shift_tab()
                await running.live.wait_for(_mode_moved(before), _PRESS_SECONDS)
            return running.live.screen_now.details.get("mode") == expected


def _mode_moved(before: object) -> Callable[[Observed, str], bool]:
    def moved(observed: Observed, _pane: str) -> bool:
        return observed.details.get("mode") not in (before, None, "")

    return moved
