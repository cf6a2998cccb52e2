"""The MCP tools: each validates its input, calls the ``Warden`` port, returns a REST schema.

A refused or failed call becomes an MCP tool error (``isError``) whose text is the REST
error body's ``code: message``, so an agent reads what to fix; nothing a tool raises
crashes the server or shows a stack trace.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from runner.api.memory import MemoryList, MemoryOut
from runner.api.pipelines import CreatePipeline, PipelineList, PipelineOut
from runner.api.schemas import (
    ActionResult,
    BatchCreate,
    BatchResult,
    CreateSession,
    Pane,
    SessionList,
    SessionOut,
    TranscriptPage,
)
from runner.api.templates import TemplateList
from runner.core import PermissionMode, SessionState
from runner.mcp.caller import caller
from runner.mcp.ports import CallError

log = logging.getLogger(__name__)

T = TypeVar("T")

SessionId = Annotated[str, Field(min_length=1, max_length=100, description="The session id.")]

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True)
#: Changes something, but doing it twice is harmless or refused (a second approve: 409).
ACT = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False)
#: Writes something new (an export) and changes nothing else.
EXPORT = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True)
DESTROY = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True)

#: The longest ``wait_for_state`` may hold a call open (an agent calls again after it).
MAX_WAIT_SECONDS = 600


class Patch(BaseModel):
    """The workspace changes as a unified diff (``git apply``-able); empty when none."""

    patch: str


class Deleted(BaseModel):
    """What was deleted."""

    deleted: str


MemoryKey = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$", description="The entry's key."),
]


class AuditVerdict(BaseModel):
    """An export of the ledger and whether it verifies (chain, Merkle roots, signatures)."""

    export: str = Field(description="The export's id (GET /v1/audit/exports/{id}/archive).")
    ok: bool
    events: int
    checkpoints: int
    first_bad_seq: int | None = Field(description="The first event that fails, if one does.")
    reason: str | None
    summary: str


class Explanation(BaseModel):
    """What the policy decides for a tool call (the body of POST /v1/policies/{name}/explain)."""

    decision: dict[str, Any]


async def _call(make: Callable[[], Awaitable[T]]) -> T:
    try:
        return await make()
    except CallError as exc:
        raise ToolError(str(exc)) from exc
    except ValidationError as exc:
        raise ToolError(f"invalid_input: {_fields(exc)}") from exc
    except ToolError:
        raise
    except Exception as exc:
        # Never a stack trace to the client: an id they can quote, the trace in our log.
        error_id = uuid.uuid4().hex[:12]
        log.exception("MCP tool failed (id %s)", error_id)
        raise ToolError(f"internal_error: internal error (id {error_id})") from exc


def _fields(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
    )


def register_tools(server: MCPServer) -> None:
    """Add every tool to ``server``."""

    @server.tool(annotations=ACT)
    async def create_session(
        workspace: Annotated[
            str | None,
            Field(description="Host directory under the server's workspace roots (absolute)."),
        ] = None,
        prompt: Annotated[str | None, Field(description="First prompt, sent once ready.")] = None,
        policy: Annotated[str | None, Field(description="Policy name (default: default).")] = None,
        image: Annotated[str | None, Field(description="Sandbox image (policy-allowed).")] = None,
        model: Annotated[str | None, Field(description="Model name (policy-allowed).")] = None,
        permission_mode: PermissionMode | None = None,
        template: Annotated[str | None, Field(description="A session template's name.")] = None,
        git_url: Annotated[str | None, Field(description="Clone this instead of a path.")] = None,
        git_ref: Annotated[str | None, Field(description="Branch, tag or commit.")] = None,
    ) -> SessionOut:
        """Start a sandboxed Claude Code session; it answers at once with state ``starting``
        (then call ``wait_for_state`` for ``idle``)."""
        fields: dict[str, Any] = {
            "prompt": prompt,
            "policy": policy,
            "image": image,
            "model": model,
            "permissionMode": permission_mode,
            "template": template,
        }
        if git_url is not None:
            fields["workspace"] = {"git": {"url": git_url, "ref": git_ref}}
        elif workspace is not None:
            fields["workspace"] = {"path": workspace}
        body = {name: value for name, value in fields.items() if value is not None}
        return await _call(lambda: caller().create_session(CreateSession.model_validate(body)))

    @server.tool(annotations=READ)
    async def list_sessions(
        states: Annotated[
            list[SessionState] | None, Field(description="Only sessions in these states.")
        ] = None,
    ) -> SessionList:
        """The caller's tenant's sessions, newest first."""
        return await _call(lambda: caller().list_sessions(states))

    @server.tool(annotations=READ)
    async def get_session(session_id: SessionId) -> SessionOut:
        """One session: its state, the state's details (the prompt on screen…), usage."""
        return await _call(lambda: caller().get_session(session_id))

    @server.tool(annotations=ACT)
    async def send_message(
        session_id: SessionId,
        text: Annotated[str, Field(min_length=1, max_length=100_000)],
    ) -> ActionResult:
        """Type a prompt into an idle session (refused unless it is idle)."""
        return await _call(lambda: caller().send(session_id, text))

    @server.tool(annotations=READ)
    async def read_transcript(
        session_id: SessionId,
        before_id: Annotated[
            int | None, Field(ge=1, description="Turns older than this id (the cursor).")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 50,
        role: Annotated[str | None, Field(pattern="^(user|assistant|system)$")] = None,
    ) -> TranscriptPage:
        """A page of the transcript, newest page first (turns oldest first in the page);
        pass ``nextBeforeId`` back as ``before_id`` for the page before."""
        return await _call(
            lambda: caller().transcript_page(
                session_id, before_id=before_id, limit=limit, role=role
            )
        )

    @server.tool(annotations=READ)
    async def get_pane(session_id: SessionId) -> Pane:
        """The session's terminal screen as text, and its state."""
        return await _call(lambda: caller().pane(session_id))

    @server.tool(annotations=READ)
    async def wait_for_state(
        session_id: SessionId,
        states: Annotated[list[SessionState], Field(min_length=1)],
        timeout_seconds: Annotated[float, Field(gt=0, le=MAX_WAIT_SECONDS)] = 60,
    ) -> SessionOut:
        """Hold until the session is in one of ``states`` (or ``timeout_seconds`` pass) and
        return it: compare its ``state`` to know which; no need to poll."""
        wanted = frozenset(states)
        return await _call(lambda: caller().wait_for_state(session_id, wanted, timeout_seconds))

    @server.tool(annotations=ACT)
    async def approve_permission(session_id: SessionId) -> ActionResult:
        """Approve the permission prompt on screen once (needs the approver role; the
        prompt's command is judged against the policy first)."""
        return await _call(lambda: caller().act(session_id, "approve"))

    @server.tool(annotations=ACT)
    async def reject_permission(session_id: SessionId) -> ActionResult:
        """Reject the permission prompt on screen (needs the approver role)."""
        return await _call(lambda: caller().act(session_id, "reject"))

    @server.tool(annotations=ACT)
    async def answer_question(
        session_id: SessionId,
        option: Annotated[int | None, Field(ge=1, description="1-based option number.")] = None,
        text: Annotated[str | None, Field(min_length=1, max_length=10_000)] = None,
    ) -> ActionResult:
        """Answer the question on screen with an option number or free text (one of them)."""
        return await _call(lambda: caller().answer(session_id, option, text))

    @server.tool(annotations=ACT)
    async def interrupt(session_id: SessionId) -> ActionResult:
        """Interrupt the agent's work (Escape while it works)."""
        return await _call(lambda: caller().act(session_id, "interrupt"))

    @server.tool(annotations=ACT)
    async def escape(session_id: SessionId) -> ActionResult:
        """Press Escape (closes a menu or dialog)."""
        return await _call(lambda: caller().act(session_id, "escape"))

    @server.tool(annotations=DESTROY)
    async def kill_session(session_id: SessionId) -> SessionOut:
        """End the session: artifacts are collected, the container removed, the record kept."""
        return await _call(lambda: caller().delete_session(session_id))

    @server.tool(annotations=READ)
    async def get_patch(session_id: SessionId) -> Patch:
        """The workspace diff the session made so far (or as collected at its end)."""
        return Patch(patch=await _call(lambda: caller().patch(session_id)))

    @server.tool(annotations=READ)
    async def list_templates() -> TemplateList:
        """The session templates of the caller's tenant."""
        return await _call(lambda: caller().list_templates())

    @server.tool(annotations=READ)
    async def explain_policy(
        policy: Annotated[str, Field(min_length=1, max_length=200)],
        tool: Annotated[str, Field(min_length=1, max_length=200, examples=["Bash"])],
        tool_input: Annotated[dict[str, Any], Field(examples=[{"command": "npm test"}])],
    ) -> Explanation:
        """What ``policy`` would decide for one tool call, and the deciding rule."""
        decision = await _call(lambda: caller().explain_policy(policy, tool, tool_input))
        return Explanation(decision=decision)

    @server.tool(annotations=EXPORT)
    async def verify_audit(
        session: Annotated[
            str | None,
            Field(
                default=None,
                min_length=1,
                max_length=64,
                description="Only this session's events; none: the whole ledger you may see.",
            ),
        ] = None,
    ) -> AuditVerdict:
        """Export the audit ledger (your tenant's, or one session's events) and verify it
        against the controller's signing keys, as `warden audit verify` would (auditor)."""
        export_id, checked = await _call(lambda: caller().verify_audit(session))
        return AuditVerdict(export=export_id, **checked.model_dump())

    @server.tool(annotations=ACT)
    async def batch_create_sessions(
        sessions: Annotated[
            list[CreateSession],
            Field(min_length=1, max_length=50, description="Bodies as for POST /v1/sessions."),
        ],
    ) -> BatchResult:
        """Start several sessions; each succeeds or fails on its own (see each result)."""
        return await _call(lambda: caller().create_batch(BatchCreate(sessions=sessions)))

    @server.tool(annotations=ACT)
    async def create_pipeline(
        pipeline: Annotated[CreatePipeline, Field(description="As for POST /v1/pipelines.")],
    ) -> PipelineOut:
        """Start a pipeline: stages run in dependency order, each an unattended session."""
        return await _call(lambda: caller().create_pipeline(pipeline))

    @server.tool(annotations=READ)
    async def get_pipeline(
        pipeline_id: Annotated[str, Field(min_length=1, max_length=100)],
    ) -> PipelineOut:
        """A pipeline and each stage's state, session and result."""
        return await _call(lambda: caller().get_pipeline(pipeline_id))

    @server.tool(annotations=READ)
    async def list_pipelines() -> PipelineList:
        """The tenant's pipelines."""
        return await _call(lambda: caller().list_pipelines())

    @server.tool(annotations=READ)
    async def memory_list(
        prefix: Annotated[str, Field(max_length=200, description="Only keys starting so.")] = "",
    ) -> MemoryList:
        """The tenant's shared memory entries (notes agents leave for each other)."""
        return await _call(lambda: caller().memory_list(prefix))

    @server.tool(annotations=READ)
    async def memory_get(key: MemoryKey) -> MemoryOut:
        """One shared memory entry."""
        return await _call(lambda: caller().memory_get(key))

    @server.tool(annotations=ACT)
    async def memory_set(
        key: MemoryKey,
        value: Annotated[Any, Field(description="Any JSON value (at most 64 KiB encoded).")],
        if_version: Annotated[
            int | None, Field(ge=0, description="Write only at this version (0: absent).")
        ] = None,
    ) -> MemoryOut:
        """Write a shared memory entry (with ``if_version``: compare-and-set)."""
        return await _call(lambda: caller().memory_set(key, value, if_version))

    @server.tool(annotations=DESTROY)
    async def memory_delete(key: MemoryKey) -> Deleted:
        """Delete a shared memory entry."""
        await _call(lambda: caller().memory_delete(key))
        return Deleted(deleted=key)
