"""The MCP resources (sessions, their transcripts and panes, policies, health) and prompts."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from pydantic import BaseModel

from runner.mcp.caller import caller
from runner.mcp.ports import CallError

JSON = "application/json"


async def _read(make: Callable[[], Awaitable[BaseModel | dict[str, Any]]]) -> str:
    try:
        found = await make()
    except CallError as exc:
        raise ResourceError(str(exc)) from exc
    if isinstance(found, BaseModel):
        return found.model_dump_json(by_alias=True)
    return json.dumps(found)


def register_resources(server: MCPServer) -> None:
    """Add the resources; each reads as the caller, with the caller's tenant."""

    @server.resource("warden://sessions", mime_type=JSON)
    async def sessions() -> str:
        """The caller's tenant's sessions."""
        return await _read(lambda: caller().list_sessions(None))

    @server.resource("warden://sessions/{session_id}", mime_type=JSON)
    async def session(session_id: str) -> str:
        """One session and its state."""
        return await _read(lambda: caller().get_session(session_id))

    @server.resource("warden://sessions/{session_id}/transcript", mime_type=JSON)
    async def transcript(session_id: str) -> str:
        """The newest page (200 turns) of the session's transcript."""
        return await _read(
            lambda: caller().transcript_page(session_id, before_id=None, limit=200, role=None)
        )

    @server.resource("warden://sessions/{session_id}/pane", mime_type=JSON)
    async def pane(session_id: str) -> str:
        """The session's screen as text."""
        return await _read(lambda: caller().pane(session_id))

    @server.resource("warden://policies/{name}", mime_type=JSON)
    async def policy(name: str) -> str:
        """A policy as its file says it."""
        return await _read(lambda: caller().policy(name))

    @server.resource("warden://health", mime_type=JSON)
    async def health() -> str:
        """Whether the controller and its dependencies are up."""
        return await _read(lambda: caller().health())


def register_prompts(server: MCPServer) -> None:
    """Add the prompts: ready-made briefs for delegating work into a sandbox."""

    @server.prompt()
    def implement_issue(workspace: str, issue: str) -> str:
        """Delegate an issue to a sandboxed Claude Code session and bring back its patch."""
        return (
            f"Use Warden to implement this issue in {workspace}.\n"
            "1. create_session with that workspace and the issue as the prompt.\n"
            "2. wait_for_state for idle, permission_prompt or asking; approve_permission only "
            "for commands the issue needs (reject_permission otherwise), answer_question when "
            "asked; repeat until idle.\n"
            "3. read_transcript and get_patch, report what changed, then kill_session.\n\n"
            f"Issue:\n{issue}"
        )

    @server.prompt()
    def review_pr(workspace: str, focus: str = "correctness and security") -> str:
        """Have a sandboxed session review the code in a workspace."""
        return (
            f"Use Warden to review the code in {workspace}, focusing on {focus}.\n"
            "create_session with that workspace and a prompt asking for a review (no edits), "
            "wait_for_state idle, read_transcript for the review, then kill_session."
        )

    @server.prompt()
    def debug_session(session_id: str) -> str:
        """Find out why a session is stuck or failed."""
        return (
            f"Use Warden to find out what session {session_id} is doing.\n"
            "get_session for its state and details, get_pane for its screen, read_transcript "
            "for its last turns; if it waits on a prompt, say which and what it asks."
        )
