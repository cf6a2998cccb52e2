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

    def tool_use_ids(self, session_id: str) -> frozenset[str]:
        """The ids of every tool call the hook judged in this session (for the transcript)."""
        return frozenset(self._tool_uses.get(session_id, ()))

    def forget(self, session_id: str) -> None:
        self._latest.pop(session_id, None)
        self._tool_uses.pop(session_id, None)

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
