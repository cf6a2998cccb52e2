"""Who may answer a permission prompt, what they may approve, and what happens when nobody does.

An approval binds to the PreToolUse hook's structured tool call, never to the screen:
the screen is the agent's to draw (it can write to its own terminal), so the prompt on
screen must agree in tool and command or path with a pending ``ask`` the hook actually
saw, or approval is refused (409, ``screen.mismatch``). The actor must hold one of the
policy's approver roles, and the hook's own tool input is judged by the policy again, so
a call is never approved against policy. ``permission.decided`` records the hook's
request id and tool input. An unanswered prompt gets the policy's fallback after its
timeout; an unattended (CI) session gets its CI fallback at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.core import Actor, EventSink, SessionState
from runner.errors import ConflictError, PolicyDeniedError, WardenError
from runner.sessions import prompts
from runner.sessions.hooklog import HookLog, HookRequest
from runner.sessions.live import Observed
from runner.sessions.model import SessionRecord
from runner.sessions.policy_gate import PolicyGate
from runner.sessions.runtime import Running

log = logging.getLogger(__name__)

TIMEOUT_RULE = "approvals.timeout"
CI_RULE = "approvals.ci_fallback"


class ApprovalDesk:
    """Answers permission prompts for people, and for the policy when people do not."""

    def __init__(self, gate: PolicyGate, events: EventSink, hooks: HookLog) -> None:
        self._gate = gate
        self._events = events
        self._hooks = hooks
        self._timers: dict[str, asyncio.Task[None]] = {}

    async def approve(
        self,
        record: SessionRecord,
        running: Running,
        actor: Actor,
        workspace: Path,
        expect: prompts.PromptCheck | None = None,
        request: str | None = None,
    ) -> int:
        """Approve once, if the actor may, the screen shows a call the hook is waiting on,
        and the policy does not deny that call.

        Raises:
            AuthorizationError: the actor holds no approver role of the policy.
            ConflictError: the screen's prompt is not the hook's pending call (409).
            PolicyDeniedError: the policy denies the hook's call.
        """
        self._gate.check_approver(record.policy, actor)
        bound = await self._bind(record, running, actor, request)
        rule = await self._check_call(record, bound, actor, workspace)
        option = await prompts.approve(
            running,
            self._events,
            record.id,
            actor,
            rule=rule,
            expect=self._still(record.id, bound, expect),
            bound=bound.as_json(),
        )
        self._hooks.decided(record.id, bound.id)
        return option

    async def reject(
        self,
        record: SessionRecord,
        running: Running,
        actor: Actor,
        expect: prompts.PromptCheck | None = None,
    ) -> int | None:
        self._gate.check_approver(record.policy, actor)
        # Refusing is always allowed; the request is named when the screen agrees with
        # one. When it agrees with none, the options on screen may be the agent's drawing
        # ("2. No" where the real dialog has "2. Yes, and always allow"): press Esc,
        # which cancels whatever dialog is really there.
        bound = self._hooks.bind(record.id, running.live.observed.details)
        option = await prompts.reject(
            running,
            self._events,
            record.id,
            actor,
            expect=expect,
            bound=bound.as_json() if bound else None,
            escape=bound is None,
        )
        if bound is not None:
            self._hooks.decided(record.id, bound.id)
        return option

    async def _bind(
        self, record: SessionRecord, running: Running, actor: Actor, request: str | None
    ) -> HookRequest:
        details = running.live.observed.details
        bound = self._hooks.bind(record.id, details, request)
        if bound is not None:
            return bound
        pending = [r.as_json() for r in self._hooks.pending(record.id)]
        await self._events.emit(
            "screen.mismatch",
            actor=actor,
            session=record.id,
            data={"screen": dict(details), "pending": pending, "request": request},
        )
        raise ConflictError(
            "the prompt on screen does not match the tool call the hook is waiting on;"
            " not approved (the screen may have been drawn by the agent)",
            details={"pending": pending, "request": request},
        )

    def _still(
        self, session_id: str, bound: HookRequest, expect: prompts.PromptCheck | None
    ) -> prompts.PromptCheck:
        """Checked again under the session's lock, just before the key is pressed."""

        def check(details: Mapping[str, Any]) -> bool:
            again = self._hooks.bind(session_id, details, bound.id)
            return again is not None and (expect is None or expect(details))

        return check

    async def _check_call(
        self, record: SessionRecord, bound: HookRequest, actor: Actor, workspace: Path
    ) -> str | None:
        verdict = self._gate.judge_tool(record.policy, bound.tool_name, bound.tool_input, workspace)
        if verdict.decision != "deny":
            return verdict.rule
        await self._events.emit(
            "permission.refused",
            actor=actor,
            session=record.id,
            data={"rule": verdict.rule, "reason": verdict.reason, **bound.as_json()},
        )
        raise PolicyDeniedError(
            f"the policy denies what this prompt would do: {verdict.reason}", rule=verdict.rule
        )

    def watch(
        self, record: SessionRecord, running: Running, observed: Observed, workspace: Path
    ) -> None:
        """Start (or stop) the clock on a prompt as the session's state changes."""
        self.forget(record.id)
        if observed.state != SessionState.PERMISSION_PROMPT:
            return
        timeout, fallback, ci_fallback = self._gate.approvals(record.policy)
        if record.unattended:
            timeout, fallback = 0.0, ci_fallback
        self._timers[record.id] = asyncio.create_task(
            self._expire(record, running, observed, workspace, timeout, fallback)
        )

    def forget(self, session_id: str) -> None:
        timer = self._timers.pop(session_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    async def _expire(
        self,
        record: SessionRecord,
        running: Running,
        observed: Observed,
        workspace: Path,
        after: float,
        fallback: str,
    ) -> None:
        await asyncio.sleep(after)
        if running.live.observed != observed:
            return  # answered, or another prompt took its place (it has its own clock)
        rule = CI_RULE if record.unattended else TIMEOUT_RULE
        system = Actor.system()
        await self._events.emit(
            "permission.timeout",
            actor=system,
            session=record.id,
            data={
                "rule": rule,
                "fallback": fallback,
                "after": after,
                "prompt": dict(observed.details),
            },
        )
        try:
            if fallback == "allow":
                with contextlib.suppress(PolicyDeniedError, ConflictError):
                    bound = await self._bind(record, running, system, None)
                    await self._check_call(record, bound, system, workspace)
                    await prompts.approve(
                        running,
                        self._events,
                        record.id,
                        system,
                        rule=rule,
                        expect=self._still(record.id, bound, None),
                        bound=bound.as_json(),
                    )
                    self._hooks.decided(record.id, bound.id)
                    return
            await prompts.reject(running, self._events, record.id, system, rule=rule)
        except WardenError:
            log.exception("could not apply the %s fallback to session %s", fallback, record.id)
