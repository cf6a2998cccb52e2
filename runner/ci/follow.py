"""Following a session to its outcome by polling its state and its audit events."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Protocol

from runner.ci.events import EventLog
from runner.ci.outcome import Outcome, Progress, Rules, ToolCheck, judge
from runner.ci.target import RunTarget, SessionView
from runner.core import SessionState


class Listener(Protocol):
    """Hears a run's progress (the CLI prints it; pipelines ignore it)."""

    def state(self, view: SessionView, elapsed: float) -> None: ...

    def check(self, check: ToolCheck, elapsed: float) -> None: ...


class Silent:
    def state(self, view: SessionView, elapsed: float) -> None:
        pass

    def check(self, check: ToolCheck, elapsed: float) -> None:
        pass


@dataclass
class Followed:
    """What following a session produced: its outcome, last view and events."""

    outcome: Outcome
    view: SessionView
    log: EventLog = field(default_factory=EventLog)


async def catch_up(target: RunTarget, session_id: str, log: EventLog) -> list[ToolCheck]:
    """Add the session's newer audit events to ``log``; returns the new policy checks."""
    checks: list[ToolCheck] = []
    for event in await target.events(session_id, log.last_seq):
        check = log.add(event)
        if check is not None:
            checks.append(check)
    return checks


async def follow(
    target: RunTarget,
    session_id: str,
    rules: Rules,
    *,
    started: float,
    log: EventLog,
    listener: Listener | None = None,
    poll: float = 0.5,
) -> Followed:
    """Poll until ``judge`` decides (done, violation, error, or ``rules.timeout``).

    ``started`` is the ``time.monotonic()`` when the run began (the timeout counts from it).
    """
    listener = listener or Silent()
    last_seen: tuple[str, object] | None = None
    idle_since: float | None = None
    while True:
        view = await target.session(session_id)
        now = time.monotonic()
        for check in await catch_up(target, session_id, log):
            listener.check(check, now - started)
        # A new state, or a new retry of a failing model call while still "working".
        seen = (view.state, view.details.get("attempt") if view.details.get("retrying") else None)
        if seen != last_seen:
            listener.state(view, now - started)
            last_seen = seen
        idle_since = (idle_since or now) if view.state == SessionState.IDLE else None
        progress = Progress(
            state=view.state,
            details=view.details,
            error=view.error,
            prompt_delivered=log.prompt_delivered,
            # The manager shows "starting" until the prompt is typed and taken, so once
            # it shows anything else after ``input.sent`` the agent has had the prompt.
            worked=log.prompt_delivered and view.state != "starting",
            idle_for=now - idle_since if idle_since is not None else 0.0,
            elapsed=now - started,
            checks=tuple(log.checks),
            model_calls=tuple(log.model_calls),
        )
        outcome = judge(progress, rules)
        if outcome is not None:
            return Followed(outcome, view, log)
        await asyncio.sleep(poll)
