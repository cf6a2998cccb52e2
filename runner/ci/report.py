"""Everything a finished run reports, gathered from its artifacts and audit events."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner.ci.events import describe_target
from runner.ci.outcome import ModelCall, Outcome, ToolCheck
from runner.sessions.transcript import Turn

_DIFF_HEADER = re.compile(r"^diff --git a/(.+) b/(.+)$")


@dataclass(frozen=True)
class FileChange:
    path: str
    status: str  # added | deleted | modified | binary
    added: int = 0
    removed: int = 0


@dataclass(frozen=True)
class Action:
    """One tool call the agent made, and the gist of what it returned (first/last line)."""

    tool: str
    target: str
    result: str = ""


@dataclass(frozen=True)
class Tokens:
    input: int = 0
    output: int = 0
    requests: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output


@dataclass(frozen=True)
class RunReport:
    """What was asked, what was done, and how the run ended."""

    prompt: str
    policy: str
    work_dir: str
    outcome: Outcome
    started_at: datetime
    seconds: float
    session_id: str | None = None
    model: str | None = None
    checks: Sequence[ToolCheck] = ()
    tokens: Tokens = field(default_factory=Tokens)
    actions: Sequence[Action] = ()
    final_message: str | None = None
    changes: Sequence[FileChange] = ()
    artifacts: Sequence[str] = ()

    models_used: Sequence[str] = ()

    @property
    def denials(self) -> list[ToolCheck]:
        return [c for c in self.checks if c.is_denied]


def changed_files(patch: str) -> list[FileChange]:
    """The files a ``workspace_patch``/``git diff`` touches, with line counts."""
    changes: list[FileChange] = []
    current: dict[str, Any] | None = None
    for line in patch.splitlines():
        header = _DIFF_HEADER.match(line)
        if header:
            if current is not None:
                changes.append(FileChange(**current))
            current = {"path": header.group(2), "status": "modified", "added": 0, "removed": 0}
        elif current is None:
            continue
        elif line.startswith("new file mode"):
            current["status"] = "added"
        elif line.startswith("deleted file mode"):
            current["status"] = "deleted"
        elif line.startswith("Binary files "):
            current["status"] = "binary"
        elif line.startswith("+") and not line.startswith("+++ "):
            current["added"] += 1
        elif line.startswith("-") and not line.startswith("--- "):
            current["removed"] += 1
    if current is not None:
        changes.append(FileChange(**current))
    return changes


def actions_from(turns: Sequence[Turn]) -> tuple[list[Action], str | None]:
    """The tool calls in the transcript (with their results) and the last assistant text."""
    results: dict[str, str] = {}
    for turn in turns:
        for result in turn.tool_results:
            results[str(result.get("toolUseId"))] = _gist(str(result.get("content") or ""))
    actions: list[Action] = []
    final: str | None = None
    for turn in turns:
        if turn.role != "assistant":
            continue
        if turn.text.strip():
            final = turn.text.strip()
        for use in turn.tool_uses:
            actions.append(
                Action(
                    tool=str(use.get("name") or "?"),
                    target=describe_target(use.get("input")),
                    result=results.get(str(use.get("id")), ""),
                )
            )
    return actions, final


def models_from(calls: Sequence[ModelCall]) -> tuple[str, ...]:
    """The models that answered the run's Messages calls, in the order first used."""
    names = [c.model for c in calls if c.is_message and c.status < 400 and c.model]
    return tuple(dict.fromkeys(names))


def _gist(content: str) -> str:
    """A tool result in one line: its first line, and its last when there are more.

    Test runners and builds put the verdict last ("1 failed in 0.05s") and Claude Code
    puts "Exit code 1" first, so both ends say what happened.
    """
    lines = [line.strip() for line in content.splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else ""
    return f"{lines[0]} … {lines[-1]}"


def tokens_from(usage: Mapping[str, Any], calls: Sequence[ModelCall]) -> Tokens:
    """Token use: the session's own count, else the sum over the audited model calls."""
    if usage.get("requests"):
        return Tokens(
            input=int(usage.get("inputTokens") or 0),
            output=int(usage.get("outputTokens") or 0),
            requests=int(usage.get("requests") or 0),
        )
    ok = [c for c in calls if c.status < 400]
    return Tokens(
        input=sum(c.input_tokens for c in ok),
        output=sum(c.output_tokens for c in ok),
        requests=len(ok),
    )
