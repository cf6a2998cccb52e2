"""Who may answer a permission prompt, what they may approve, and what happens when nobody does.

A human approval is checked twice: the actor must hold one of the policy's approver
roles, and the prompt's own command or path is judged by the policy again, so that a
prompt can never be approved against policy (whatever the hook decided earlier). An
unanswered prompt gets the policy's fallback after its timeout; an unattended (CI)
session gets its CI fallback at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from runner.core import Actor, EventSink, SessionState
from runner.errors import PolicyDeniedError, WardenError
from runner.sessions import prompts
from runner.sessions.live import Observed
from runner.sessions.model import SessionRecord
from runner.sessions.policy_gate import PolicyGate
from runner.sessions.runtime import Running

log = logging.getLogger(__name__)

TIMEOUT_RULE = "approvals.timeout"
CI_RULE = "approvals.ci_fallback"


class ApprovalDesk:
    """Answers permission prompts for people, and for the policy when people do not."""

    def __init__(self, gate: PolicyGate, events: EventSink) -> None:
        self._gate = gate
        self._events = events
        self._timers: dict[str, asyncio.Task[None]] = {}

    async def approve(
        self,
        record: SessionRecord,
        running: Running,
        actor: Actor,
        workspace: Path,
        expect: prompts.PromptCheck | None = None,
    ) -> int:
        """Approve once, if the actor may and the policy does not deny what it would run.

        Raises:
            AuthorizationError: the actor holds no approver role of the policy.
            PolicyDeniedError: the policy denies the prompt's command or path.
        """
        self._gate.check_approver(record.policy, actor)
        rule = await self._check_prompt(record, running, actor, workspace)
        return await prompts.approve(
            running, self._events, record.id, actor, rule=rule, expect=expect
        )

    async def reject(
        self,
        record: SessionRecord,
        running: Running,
        actor: Actor,
        expect: prompts.PromptCheck | None = None,
    ) -> int | None:
        self._gate.check_approver(record.policy, actor)
        return await prompts.reject(running, self._events, record.id, actor, expect=expect)

    async def _check_prompt(
        self, record: SessionRecord, running: Running, actor: Actor, workspace: Path
    ) -> str | None:
        details = running.live.observed.details
        verdict = self._gate.judge_prompt(record.policy, details, workspace)
        if verdict is None or verdict.decision != "deny":
            return verdict.rule if verdict is not None else None
        await self._events.emit(
            "permission.refused",
            actor=actor,
            session=record.id,
            data={"rule": verdict.rule, "reason": verdict.reason, "prompt": dict(details)},
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
                with contextlib.suppress(PolicyDeniedError):
                    await self._check_prompt(record, running, system, workspace)
                    await prompts.approve(running, self._events, record.id, system, rule=rule)
                    return
            await prompts.reject(running, self._events, record.id, system, rule=rule)
        except WardenError:
            log.exception("could not apply the %s fallback to session %s", fallback, record.id)
