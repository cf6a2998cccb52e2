"""Claude Code hook calls, as the gateway's policy decision endpoint sees them.

The in-sandbox hook (``images/sandbox/warden-hook``) posts Claude Code's hook JSON here
and prints our answer back to Claude Code verbatim, so the answer must be exactly
Claude Code's hook output format.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

Decision = Literal["allow", "deny", "ask"]


@dataclass(frozen=True)
class ToolCall:
    """A tool call Claude Code is about to make.

    ``session_id`` is Warden's session (the gateway's own, never taken from the body:
    the sandbox must not be able to speak for another session).
    """

    session_id: str
    tool_name: str
    tool_input: dict[str, Any]
    tool_use_id: str | None
    cwd: str | None
    permission_mode: str | None


@dataclass(frozen=True)
class HookDecision:
    """The policy's answer, with the rule that decided (None: no rule matched)."""

    decision: Decision
    reason: str
    rule: str | None


DecideFn = Callable[[ToolCall], Awaitable[HookDecision]]
EventFn = Callable[[str, dict[str, Any]], Awaitable[None]]

NO_POLICY = HookDecision(decision="ask", reason="no policy decision endpoint configured", rule=None)


def tool_call_from_hook(session_id: str, body: dict[str, Any]) -> ToolCall:
    """Read Claude Code's PreToolUse hook input.

    Raises:
        ValueError: the body names no tool (the caller denies it).
    """
    tool_name = body.get("tool_name")
    if not isinstance(tool_name, str) or not tool_name:
        raise ValueError("hook input has no tool_name")
    tool_input = body.get("tool_input")
    return ToolCall(
        session_id=session_id,
        tool_name=tool_name,
        tool_input=tool_input if isinstance(tool_input, dict) else {},
        tool_use_id=_text(body.get("tool_use_id")),
        cwd=_text(body.get("cwd")),
        permission_mode=_text(body.get("permission_mode")),
    )


def hook_output(decision: HookDecision) -> dict[str, Any]:
    """Claude Code's PreToolUse hook output for ``decision``."""
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": decision.decision,
            "permissionDecisionReason": f"warden: {decision.rule or 'default'}: {decision.reason}",
        }
    }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


async def answer_pre_tool_use(
    session_id: str, raw: bytes | None, decide: DecideFn
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Decide a PreToolUse hook call: the hook output, and the ``tool.decision`` event data.

    Fails closed: unreadable input, a ``decide`` that raises, or an answer that is not
    allow/deny/ask all deny. The hook exists to stop tools, and a policy that cannot be
    evaluated has not allowed anything.
    """
    body = json_object(raw)
    call: ToolCall | None = None
    # Each hook call gets an id of the gateway's: approvals bind to it, never to a screen.
    request_id = uuid.uuid4().hex
    try:
        if body is None:
            raise ValueError("hook input is not a JSON object")
        call = tool_call_from_hook(session_id, body)
        decision = await decide(call)
        if decision.decision not in ("allow", "deny", "ask"):
            raise ValueError(f"policy answered {decision.decision!r}")
    except Exception as exc:
        log.exception("policy decision failed for session %s; denying", session_id)
        decision = HookDecision("deny", f"policy decision failed ({type(exc).__name__})", None)
    event: dict[str, Any] = {
        "request": request_id,
        "tool_name": call.tool_name if call else None,
        "tool_input": call.tool_input if call else None,
        "tool_use_id": call.tool_use_id if call else None,
        "cwd": call.cwd if call else None,
        "permission_mode": call.permission_mode if call else None,
        "claude_session_id": _text(body.get("session_id")) if body else None,
        "decision": decision.decision,
        "reason": decision.reason,
        "rule": decision.rule,
    }
    return hook_output(decision), event


def json_object(raw: bytes | None) -> dict[str, Any] | None:
    """``raw`` parsed as a JSON object, or None (absent, not JSON, not an object)."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
