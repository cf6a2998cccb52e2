"""The hook's latest decision per session, to compare with what the screen shows.

Where the two disagree (the hook allowed or denied a call, yet Claude Code shows its own
permission prompt for it), the screen wins for display (the session is in
``permission_prompt``) and the disagreement is logged and audited: it means Claude
Code's own rules, or a hook failure, decided differently from the policy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: The prompt kinds the screen parser reports, by Claude Code tool name.
_KIND_OF_TOOL = {
    "Bash": "bash",
    "Write": "write",
    "Edit": "edit",
    "MultiEdit": "edit",
    "WebFetch": "fetch",
}
#: How recent a hook decision must be to be about the prompt now on screen.
_FRESH_SECONDS = 30.0


#: How many undecided ``ask`` calls are kept per session (Claude Code asks one at a time;
#: parallel tool calls may queue a few).
_PENDING_KEPT = 8


@dataclass(frozen=True)
class HookRequest:
    """A PreToolUse call the policy answered ``ask``: what a person approves."""

    id: str
    tool_name: str
    tool_input: Mapping[str, Any]
    at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "request": self.id,
            "tool_name": self.tool_name,
            "tool_input": dict(self.tool_input),
        }


@dataclass(frozen=True)
class HookVerdict:
    tool_name: str
    decision: str
    rule: str | None
    at: float


class HookLog:
    """Remembers each session's latest PreToolUse decision, and which tool calls it judged."""

    def __init__(self) -> None:
        self._latest: dict[str, HookVerdict] = {}
        self._tool_uses: dict[str, set[str]] = {}
        self._pending: dict[str, list[HookRequest]] = {}

    def record(self, session_id: str, event: Mapping[str, Any]) -> None:
        self._latest[session_id] = HookVerdict(
            str(event.get("tool_name")),
            str(event.get("decision")),
            event.get("rule"),
            time.monotonic(),
        )
        tool_use_id = event.get("tool_use_id")
        if isinstance(tool_use_id, str) and tool_use_id:
            self._tool_uses.setdefault(session_id, set()).add(tool_use_id)
        request = event.get("request")
        tool_input = event.get("tool_input")
        if event.get("decision") == "ask" and isinstance(request, str):
            pending = self._pending.setdefault(session_id, [])
            if any(known.id == request for known in pending):
                return  # restored from the ledger again (a takeover): kept once
            pending.append(
                HookRequest(
                    request,
                    str(event.get("tool_name")),
                    dict(tool_input) if isinstance(tool_input, Mapping) else {},
                    time.monotonic(),
                )
            )
            del pending[:-_PENDING_KEPT]

    def pending(self, session_id: str) -> list[HookRequest]:
        """The session's undecided ``ask`` calls, oldest first."""
        return list(self._pending.get(session_id, ()))

    def decided(self, session_id: str, request_id: str) -> None:
        """A person (or the fallback) answered this request: it is no longer pending."""
        pending = self._pending.get(session_id, [])
        pending[:] = [r for r in pending if r.id != request_id]

    def bind(
        self, session_id: str, prompt: Mapping[str, Any], request_id: str | None = None
    ) -> HookRequest | None:
        """The pending hook request the prompt on screen is for, or None.

        The screen is the agent's to draw: it is only believed where it agrees with a
        call the hook actually saw, in tool and command or path. ``request_id`` names
        the request; without it the newest pending request that agrees is taken.
        """
        for request in reversed(self.pending(session_id)):
            if request_id is not None and request.id != request_id:
                continue
            return request if agrees(request, prompt) else None
        return None

    def tool_use_ids(self, session_id: str) -> frozenset[str]:
        """The ids of every tool call the hook judged in this session (for the transcript)."""
        return frozenset(self._tool_uses.get(session_id, ()))

    def forget(self, session_id: str) -> None:
        self._latest.pop(session_id, None)
        self._tool_uses.pop(session_id, None)
        self._pending.pop(session_id, None)

    def disagreement(self, session_id: str, prompt: Mapping[str, Any]) -> dict[str, Any] | None:
        """What the hook said, when it contradicts the permission prompt on screen."""
        verdict = self._latest.get(session_id)
        if verdict is None or time.monotonic() - verdict.at > _FRESH_SECONDS:
            return None
        kind = _KIND_OF_TOOL.get(verdict.tool_name)
        if verdict.decision == "ask" or (kind is not None and kind != prompt.get("tool")):
            return None
        found = {
            "hook": {"tool": verdict.tool_name, "decision": verdict.decision, "rule": verdict.rule}
        }
        log.warning(
            "session %s: screen shows a permission prompt the hook decided: %s", session_id, found
        )
        return {**found, "screen": dict(prompt)}


def agrees(request: HookRequest, prompt: Mapping[str, Any]) -> bool:
    """Whether the screen's prompt shows this hook request (tool, and command or path).

    Whitespace is not compared (the dialog wraps and indents long commands); every other
    character is.
    """
    kind = _KIND_OF_TOOL.get(request.tool_name)
    shown = str(prompt.get("tool", ""))
    if kind is None or not (shown == kind or (kind == "write" and shown == "create")):
        return False
    if kind == "bash":
        return _squeeze(str(prompt.get("command") or "")) == _squeeze(
            str(request.tool_input.get("command") or "")
        )
    if kind == "fetch":
        return bool(prompt.get("url")) and str(prompt.get("url")) in str(
            request.tool_input.get("url") or ""
        )
    path = str(request.tool_input.get("file_path") or "")
    screen_path = str(prompt.get("path") or "")
    return bool(screen_path) and (
        path == screen_path or path.endswith("/" + screen_path.lstrip("./"))
    )


def _squeeze(text: str) -> str:
    return "".join(text.split())
