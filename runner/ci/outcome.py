"""What a run saw so far, and the pure decision of how it ended (the exit code).

The exit codes are a public contract (docs/ci.md); CI jobs branch on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from runner.core import BUSY_STATES, SessionState
from runner.errors import (
    AuthenticationError,
    AuthorizationError,
    InvalidInputError,
    NotFoundError,
    PolicyDeniedError,
    WardenError,
)


class ExitCode(IntEnum):
    """How ``warden run`` ends; see docs/ci.md."""

    DONE = 0
    CONFIGURATION = 1
    POLICY_VIOLATION = 2
    TIMEOUT = 3
    AGENT_ERROR = 4
    INFRASTRUCTURE = 5


@dataclass(frozen=True)
class ToolCheck:
    """One policy decision on a tool call (an audit ``tool.decision`` or prompt answer)."""

    tool: str
    target: str
    decision: str
    rule: str | None
    reason: str

    @property
    def is_denied(self) -> bool:
        return self.decision in ("deny", "reject")


@dataclass(frozen=True)
class ModelCall:
    """One relayed model API call (an audit ``model.request``)."""

    path: str
    status: int
    input_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None
    model: str | None = None

    @property
    def is_message(self) -> bool:
        return self.path.rstrip("/").endswith("/v1/messages")


@dataclass(frozen=True)
class Progress:
    """Everything the judge needs about a run at one moment."""

    state: SessionState
    details: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    prompt_delivered: bool = False
    worked: bool = False
    idle_for: float = 0.0
    elapsed: float = 0.0
    checks: Sequence[ToolCheck] = ()
    model_calls: Sequence[ModelCall] = ()


@dataclass(frozen=True)
class Outcome:
    code: ExitCode
    reason: str

    @property
    def ok(self) -> bool:
        return self.code == ExitCode.DONE


@dataclass(frozen=True)
class Rules:
    """How a run is judged: its time limit, whether a denial fails it, how long idle must last."""

    timeout: float
    fail_on_deny: bool = True
    settle: float = 1.5


def judge(progress: Progress, rules: Rules) -> Outcome | None:
    """The run's outcome, or None while it should be followed further."""
    denied = [c for c in progress.checks if c.is_denied]
    if rules.fail_on_deny and denied:
        first = denied[0]
        return Outcome(
            ExitCode.POLICY_VIOLATION,
            f"policy denied {first.tool} {first.target!r} (rule {first.rule}): {first.reason}",
        )
    ended = _ended(progress)
    if ended is not None:
        return ended
    if (
        progress.state == SessionState.IDLE
        and progress.worked
        and progress.idle_for >= rules.settle
    ):
        return _finished(progress)
    if progress.elapsed >= rules.timeout:
        failing = model_retry(progress)
        if failing is not None:
            # Busy only with retrying a failing model API: the model is the problem.
            return Outcome(
                ExitCode.AGENT_ERROR,
                f"the model API kept failing until the time limit ({rules.timeout:.0f}s):"
                f" {failing}",
            )
        return Outcome(
            ExitCode.TIMEOUT,
            f"timed out after {progress.elapsed:.0f}s in state {progress.state}"
            f" (limit {rules.timeout:.0f}s)",
        )
    return None


def model_retry(progress: Progress) -> str | None:
    """What the screen says while Claude Code retries a failing model call, else None.

    E.g. ``"500 Internal server error (retrying: attempt 7 of 10)"``.
    """
    details = progress.details
    if progress.state not in BUSY_STATES or not details.get("retrying"):
        return None
    return describe_retry(details)


def describe_retry(details: Mapping[str, Any]) -> str:
    """A retry screen's details in words (the CLI prints them as progress)."""
    error = str(details.get("error") or "model API error")
    attempt, most = details.get("attempt"), details.get("max_attempts")
    counted = f": attempt {attempt} of {most}" if attempt and most else ""
    wait = details.get("retry_in_seconds")
    later = f", next in {wait}s" if wait is not None else ""
    return f"{error} (retrying{counted}{later})"


def _ended(progress: Progress) -> Outcome | None:
    """A session that can no longer work: it failed to start, errored or exited."""
    if progress.state == SessionState.ERROR:
        message = progress.error or str(progress.details.get("message") or "unknown error")
        if not progress.prompt_delivered:
            # It never got as far as the agent: the sandbox, image or store failed.
            return Outcome(ExitCode.INFRASTRUCTURE, f"the session could not start: {message}")
        return Outcome(ExitCode.AGENT_ERROR, f"the agent failed: {message}")
    if progress.state == SessionState.EXITED:
        return Outcome(ExitCode.AGENT_ERROR, "Claude Code exited before the run was done")
    return None


def _finished(progress: Progress) -> Outcome:
    """Idle after work: done, unless the turn ended on a model API error."""
    api_error = progress.details.get("api_error")
    if api_error:
        return Outcome(ExitCode.AGENT_ERROR, f"the turn ended on a model API error: {api_error}")
    messages = [c for c in progress.model_calls if c.is_message]
    if messages and messages[-1].status >= 400:
        last = messages[-1]
        detail = f": {last.error}" if last.error else ""
        return Outcome(
            ExitCode.AGENT_ERROR,
            f"the agent stopped after a failed model call (HTTP {last.status}{detail})",
        )
    return Outcome(ExitCode.DONE, "the agent finished its work and is idle")


def outcome_for_error(exc: BaseException) -> Outcome:
    """The outcome of a run that raised before it could be judged."""
    # Warden's own errors are sentences meant for people: print them as they are (a
    # class name or a second "policy …" in front only repeats or obscures them).
    if isinstance(exc, PolicyDeniedError):
        return Outcome(ExitCode.POLICY_VIOLATION, exc.message)
    if isinstance(
        exc, InvalidInputError | NotFoundError | AuthenticationError | AuthorizationError
    ):
        return Outcome(ExitCode.CONFIGURATION, exc.message)
    if isinstance(exc, WardenError):
        return Outcome(ExitCode.INFRASTRUCTURE, exc.message)
    return Outcome(ExitCode.INFRASTRUCTURE, f"infrastructure error: {type(exc).__name__}: {exc}")
