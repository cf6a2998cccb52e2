"""Claude Code's transcript JSONL, read from the host side of the session home.

The file grows while the agent works: a read keeps a partial last line for the next
read instead of failing on it. Each complete line gets a stable id (its 1-based line
number), so cursors stay valid as the file grows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROLES = ("user", "assistant", "system")


def transcript_path(home: Path, cwd: str, claude_session: str) -> Path:
    """``$HOME/.claude/projects/<cwd with / replaced by ->/<session-id>.jsonl``."""
    return home / ".claude" / "projects" / cwd.replace("/", "-") / f"{claude_session}.jsonl"


@dataclass(frozen=True)
class Turn:
    """One user/assistant/system entry of the transcript, simplified for clients."""

    id: int
    role: str
    text: str
    tool_uses: list[dict[str, Any]] = field(default_factory=list)
    tool_results: list[dict[str, Any]] = field(default_factory=list)
    uuid: str | None = None
    timestamp: str | None = None


@dataclass(frozen=True)
class Page:
    turns: list[Turn]
    next_before_id: int | None


class TranscriptReader:
    """Incremental reader of one transcript file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self._turns: list[Turn] = []
        self._lines = 0

    def turns(self) -> list[Turn]:
        """All complete conversational turns so far, oldest first."""
        self._catch_up()
        return list(self._turns)

    def page(self, *, before_id: int | None, limit: int, role: str | None = None) -> Page:
        """The newest ``limit`` turns older than ``before_id``, returned oldest first."""
        self._catch_up()
        candidates = [
            t
            for t in self._turns
            if (before_id is None or t.id < before_id) and (role is None or t.role == role)
        ]
        chosen = candidates[-limit:] if limit else []
        more = len(candidates) > len(chosen)
        return Page(chosen, chosen[0].id if more and chosen else None)

    def _catch_up(self) -> None:
        if not self.path.is_file():
            return
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
        self._offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        for line in complete:
            self._lines += 1
            turn = _parse_line(self._lines, line)
            if turn is not None:
                self._turns.append(turn)


def _parse_line(line_no: int, line: bytes) -> Turn | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None  # a corrupt line is skipped, not fatal: the rest stays readable
    if not isinstance(entry, dict) or entry.get("type") not in ROLES:
        return None  # bookkeeping lines: last-prompt, permission-mode, cost-state …
    message = entry.get("message") or {}
    role = message.get("role") or entry["type"]
    content = message.get("content", entry.get("content", ""))
    texts: list[str] = []
    uses: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                texts.append(str(block.get("text", "")))
            elif kind == "tool_use":
                uses.append(
                    {"id": block.get("id"), "name": block.get("name"), "input": block.get("input")}
                )
            elif kind == "tool_result":
                results.append(
                    {"toolUseId": block.get("tool_use_id"), "content": _result_text(block)}
                )
    if not texts and not uses and not results:
        return None  # e.g. system entries that only carry metadata
    return Turn(
        id=line_no,
        role=str(role),
        text="\n".join(texts),
        tool_uses=uses,
        tool_results=results,
        uuid=entry.get("uuid"),
        timestamp=entry.get("timestamp"),
    )


def _result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return "\n".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return str(content or "")
