"""The session record as the domain sees it, and the store protocol it is kept in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from runner.core import PermissionMode, SessionState, WorkspaceMode


@dataclass(frozen=True)
class SessionRecord:
    """One session, as stored."""

    id: str
    tenant: str
    owner: str
    state: SessionState
    details: Mapping[str, Any]
    work_dir: str
    workspace_mode: WorkspaceMode
    policy: str
    image: str
    model: str | None
    permission_mode: PermissionMode
    prompt: str | None
    env: Mapping[str, str]
    container_id: str | None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None
    error: str | None = None
    usage: Mapping[str, Any] = field(default_factory=dict)
    unattended: bool = False
    #: Where the workspace came from (``runner.workspace.source.to_json``); empty for
    #: records from before sources existed, whose ``work_dir`` is the host path.
    workspace: Mapping[str, Any] = field(default_factory=dict)
    #: A label the client chose (Aegis's ``name``); None: none given.
    name: str | None = None
    #: The controller replica holding the session's lease, and until when (read from the
    #: lease table; never written with the record).
    replica: str | None = None
    lease_expires_at: datetime | None = None


@dataclass(frozen=True)
class StateChange:
    """One entry of a session's state history."""

    session_id: str
    state: SessionState
    details: Mapping[str, Any]
    at: datetime


@dataclass(frozen=True)
class ArtifactRecord:
    session_id: str
    name: str
    path: str
    size: int
    created_at: datetime


class SessionStore(Protocol):
    """Where sessions, their state history and artifacts are kept (``runner.store``)."""

    def add(self, record: SessionRecord) -> None: ...

    def get(self, session_id: str) -> SessionRecord | None: ...

    def find(
        self, *, tenant: str | None = None, states: Sequence[SessionState] | None = None
    ) -> list[SessionRecord]: ...

    def update(self, session_id: str, **changes: Any) -> SessionRecord: ...

    def record_state(self, change: StateChange) -> None: ...

    def history(self, session_id: str) -> list[StateChange]: ...

    def add_artifact(self, artifact: ArtifactRecord) -> None: ...

    def artifacts(self, session_id: str) -> list[ArtifactRecord]: ...
