"""Aegis-shaped session routes: health with hints (one or all), summary, stats, kill.

Orchestrators written against Aegis's REST API call these; each answers in Aegis's
shape (docs/aegis-compat.md) with Warden's own roles and tenancy: viewers read,
operators act, and another tenant's session is 404 like every other session route.
Mounted before ``runner.api.sessions`` so ``/v1/sessions/stats`` is not taken for an id.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from runner.api.aegis_schemas import (
    ActionHint,
    SessionHealth,
    SessionStats,
    SessionSummary,
    SummaryMessage,
)
from runner.api.deps import ManagerDep, OperatorDep, ViewerDep, ViewsDep
from runner.api.schemas import EndedSession
from runner.api.sessions import ended_out
from runner.core import FINAL_STATES, utcnow
from runner.sessions.liveness import aegis_status, liveness, stats
from runner.sessions.model import SessionRecord
from runner.sessions.transcript import Turn

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

#: Turns a summary shows (Aegis's default).
_SUMMARY_TURNS = 20
#: Characters of each turn a summary keeps: a summary, not the transcript.
_SUMMARY_CHARS = 2000


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@router.get("/stats", response_model=SessionStats)
async def session_stats(manager: ManagerDep, actor: ViewerDep) -> SessionStats:
    """Counts over the tenant's sessions: running by status, created, completed, failed."""
    counted = stats(await manager.list_sessions(actor))
    return SessionStats(
        active=counted.active,
        by_status=dict(counted.by_status),
        total_created=counted.total_created,
        total_completed=counted.total_completed,
        total_failed=counted.total_failed,
    )


@router.get("/health", response_model=dict[str, SessionHealth])
async def all_health(
    manager: ManagerDep, views: ViewsDep, actor: ViewerDep
) -> dict[str, SessionHealth]:
    """Every running session's health, by id (Aegis's bulk check; ended ones left out)."""
    out = {}
    for record in await manager.list_sessions(actor):
        if record.state in FINAL_STATES:
            continue
        turns = await views.transcript(record.id, actor)
        out[record.id] = _health(record, has_transcript=bool(turns))
    return out


@router.get("/{session_id}/health", response_model=SessionHealth)
async def session_health(
    session_id: str, manager: ManagerDep, views: ViewsDep, actor: ViewerDep
) -> SessionHealth:
    """Liveness with what to do next (``details`` for people, ``actionHints`` for code)."""
    record = await manager.get(session_id, actor)
    turns = await views.transcript(session_id, actor)
    return _health(record, has_transcript=bool(turns))


def _health(record: SessionRecord, *, has_transcript: bool) -> SessionHealth:
    found = liveness(record, has_transcript=has_transcript)
    now = utcnow()
    hints = {
        name: ActionHint(method=h.method, url=h.url, description=h.description)
        for name, h in found.hints.items()
    }
    return SessionHealth(
        alive=found.alive,
        window_exists=found.container_exists,
        claude_running=found.claude_running,
        pane_command="claude" if found.claude_running else None,
        status=found.status,
        has_transcript=found.has_transcript,
        last_activity=_ms(found.last_activity),
        last_activity_ago=max(0, _ms(now) - _ms(found.last_activity)),
        session_age=max(0, _ms(now) - _ms(found.created_at)),
        details=found.details,
        action_hints=hints or None,
    )


def _messages(turn: Turn) -> list[SummaryMessage]:
    """A turn as Aegis's summary entries: its text, then each tool call and result."""
    out = []
    if turn.text:
        out.append(
            SummaryMessage(role=turn.role, content_type="text", text=turn.text[:_SUMMARY_CHARS])
        )
    for use in turn.tool_uses:
        name = str(use.get("name", "tool"))
        out.append(SummaryMessage(role=turn.role, content_type="tool_use", text=name))
    for result in turn.tool_results:
        text = str(result.get("content", result.get("text", "")))[:_SUMMARY_CHARS]
        out.append(SummaryMessage(role=turn.role, content_type="tool_result", text=text))
    return out


@router.get("/{session_id}/summary", response_model=SessionSummary)
async def session_summary(
    session_id: str, manager: ManagerDep, views: ViewsDep, actor: ViewerDep
) -> SessionSummary:
    """The last turns of the transcript, condensed, with counts."""
    record = await manager.get(session_id, actor)
    turns = await views.transcript(session_id, actor)
    messages = [m for turn in turns[-_SUMMARY_TURNS:] for m in _messages(turn)]
    return SessionSummary(
        session_id=record.id,
        window_name=record.name or record.id,
        status=aegis_status(record.state),
        total_messages=len(turns),
        tool_calls=sum(len(t.tool_uses) for t in turns),
        messages=messages,
        created_at=_ms(record.created_at),
        last_activity=_ms(record.updated_at),
        permission_mode=record.permission_mode.value,
    )


@router.post("/{session_id}/kill", response_model=EndedSession)
async def kill_session(session_id: str, manager: ManagerDep, actor: OperatorDep) -> EndedSession:
    """Aegis's kill: the same as ``DELETE /v1/sessions/{id}`` (artifacts kept)."""
    return ended_out(await manager.delete(session_id, actor))
