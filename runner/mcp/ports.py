"""What the MCP tools need from Warden, whichever side of the network it is on.

Both adapters answer with the REST API's own schemas, so an MCP client sees exactly the
shapes ``docs/api.md`` describes, and both fail with ``CallError`` carrying the same
code and message as the REST 4xx body would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from runner.api.audit import Verification
from runner.api.memory import MemoryList, MemoryOut
from runner.api.pipelines import CreatePipeline, PipelineList, PipelineOut
from runner.api.schemas import (
    ActionResult,
    BatchCreate,
    BatchResult,
    CreateSession,
    Health,
    Pane,
    SessionList,
    SessionOut,
    TranscriptPage,
)
from runner.api.templates import TemplateList
from runner.core import SessionState


class CallError(Exception):
    """A refused or failed call: the REST error body's code and message."""

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Change:
    """A session changed: one catalogue event's type (``docs/events.md``) and session."""

    type: str
    session: str


#: "Anything may have changed": a feed resumed after a gap it cannot replay sends this,
#: and every subscribed URI gets one update (updates are "read again" triggers).
RESYNC = Change("resync", "")


class Warden(Protocol):
    """The operations behind the tools; each checks the caller's role and tenant."""

    async def create_session(self, body: CreateSession) -> SessionOut: ...

    async def list_sessions(self, states: Sequence[SessionState] | None) -> SessionList: ...

    async def get_session(self, session_id: str) -> SessionOut: ...

    async def send(self, session_id: str, text: str) -> ActionResult: ...

    async def transcript_page(
        self, session_id: str, *, before_id: int | None, limit: int, role: str | None
    ) -> TranscriptPage: ...

    async def pane(self, session_id: str) -> Pane: ...

    async def act(self, session_id: str, action: str) -> ActionResult:
        """``approve``, ``reject``, ``interrupt`` or ``escape``."""
        ...

    async def answer(
        self, session_id: str, option: int | None, text: str | None
    ) -> ActionResult: ...

    async def delete_session(self, session_id: str) -> SessionOut: ...

    async def patch(self, session_id: str) -> str: ...

    async def list_templates(self) -> TemplateList: ...

    async def create_batch(self, body: BatchCreate) -> BatchResult: ...

    async def create_pipeline(self, body: CreatePipeline) -> PipelineOut: ...

    async def get_pipeline(self, pipeline_id: str) -> PipelineOut: ...

    async def list_pipelines(self) -> PipelineList: ...

    async def memory_list(self, prefix: str) -> MemoryList: ...

    async def memory_get(self, key: str) -> MemoryOut: ...

    async def memory_set(self, key: str, value: Any, if_version: int | None) -> MemoryOut: ...

    async def memory_delete(self, key: str) -> None: ...

    async def explain_policy(
        self, name: str, tool: str, tool_input: dict[str, Any]
    ) -> dict[str, Any]: ...

    async def policy(self, name: str) -> dict[str, Any]: ...

    async def health(self) -> Health: ...

    async def verify_audit(self, session: str | None) -> tuple[str, Verification]:
        """Export the caller's tenant's ledger (or one session's events) and verify it
        against the controller's signing keys: the export's id and the verdict."""
        ...

    async def wait_for_state(
        self, session_id: str, states: frozenset[SessionState], seconds: float
    ) -> SessionOut:
        """The session once it is in one of ``states``, or as it is once ``seconds`` passed."""
        ...

    def changes(
        self, types: frozenset[str]
    ) -> AbstractAsyncContextManager[AsyncIterator[list[Change]]]:
        """The changes of every session the caller may read, from the moment it is entered.

        Entering checks the caller's role (viewer) and fixes "now", so nothing that
        happens after it returns is missed; the iterator then runs until cancelled, in
        batches of what happened together. Only sessions of the caller's tenant (all,
        for a global admin) appear: the feed is filtered as ``GET /v1/events`` is.
        """
        ...
