"""Where a run's session lives: this process or a server (``RunTarget``).

Both adapters implement ``RunTarget``; the run itself (``runner.ci.run``) knows neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from runner.ci.events import EventView
from runner.core import SessionState

#: The artifact files a run copies into ``--out`` (recording segments are added by name).
ARTIFACT_NAMES = ("changes.patch", "transcript.jsonl", "recording.cast")


@dataclass(frozen=True)
class RunSpec:
    """The session a run asks for; it is always unattended (nobody answers prompts)."""

    prompt: str
    policy: str
    work_dir: Path
    model: str | None = None
    image: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    #: Start from the workspace this earlier session left (pipelines' ``workspaceFrom``).
    workspace_from: str | None = None


@dataclass(frozen=True)
class SessionView:
    id: str
    state: SessionState
    details: Mapping[str, Any]
    error: str | None = None
    usage: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None


class RunTarget(Protocol):
    """The few session operations a run needs; every method raises ``WardenError``s."""

    async def create(self, spec: RunSpec) -> str:
        """Start an unattended session; returns its id."""
        ...

    async def session(self, session_id: str) -> SessionView: ...

    async def events(self, session_id: str, after: int | None) -> list[EventView]:
        """The session's audit events after seq ``after``, oldest first."""
        ...

    async def delete(self, session_id: str) -> SessionView:
        """Collect the artifacts and remove the container."""
        ...

    async def download(self, session_id: str, out: Path) -> list[Path]:
        """Copy the collected artifacts (``ARTIFACT_NAMES`` that exist) into ``out``."""
        ...

    async def export_audit(self, session_id: str, out: Path) -> None:
        """Write a verifiable audit export of the session's events into ``out``."""
        ...
