"""What a session's record says about its liveness, in the words Aegis's clients expect.

Aegis (an orchestrator API many clients are written against) names states a little
differently, reports a session's health as a few booleans and ages, and tells the
client what to do next. This module derives all of it from a record (whose ``state``
already carries the live screen's) so the routes only shape the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from runner.core import FINAL_STATES, SessionState
from runner.sessions.model import SessionRecord

#: Warden's state → Aegis's ``status`` (Aegis has no ``starting`` or ``exited``: a
#: session it cannot read is ``unknown``; ``stalled`` is in its README's state table).
_STATUS = {
    SessionState.QUEUED: "unknown",
    SessionState.STARTING: "unknown",
    SessionState.IDLE: "idle",
    SessionState.WORKING: "working",
    SessionState.PERMISSION_PROMPT: "permission_prompt",
    SessionState.ASKING: "ask_question",
    SessionState.STALLED: "stalled",
    SessionState.EXITED: "unknown",
    SessionState.ERROR: "error",
    SessionState.UNKNOWN: "unknown",
}

#: Every ``status`` filter value a list accepts: Aegis's vocabulary (``all`` matches every
#: session), then Warden's own state names.
AEGIS_STATUSES = (
    "all",
    "idle",
    "working",
    "compacting",
    "context_warning",
    "waiting_for_input",
    "permission_prompt",
    "plan_mode",
    "ask_question",
    "bash_approval",
    "settings",
    "error",
    "rate_limit",
    "unknown",
    "stalled",
)
STATUS_FILTERS = tuple(dict.fromkeys([*AEGIS_STATUSES, *(s.value for s in SessionState)]))


def aegis_status(state: SessionState) -> str:
    """Aegis's name for ``state``."""
    return _STATUS[state]


def matches_status(record: SessionRecord, wanted: str) -> bool:
    """Whether ``record`` is in the ``status`` a list filter names (either vocabulary)."""
    return wanted == "all" or record.state.value == wanted or aegis_status(record.state) == wanted


@dataclass(frozen=True)
class Hint:
    method: str
    url: str
    description: str


@dataclass(frozen=True)
class Liveness:
    """A session's health: alive or not, why, and what the client can do now."""

    alive: bool
    container_exists: bool
    claude_running: bool
    status: str
    has_transcript: bool
    last_activity: datetime
    created_at: datetime
    details: str
    hints: Mapping[str, Hint] = field(default_factory=dict)


def _hints(record: SessionRecord) -> tuple[str, dict[str, Hint]]:
    """The sentence for a person and the calls that move the session on."""
    base = f"/v1/sessions/{record.id}"
    state = record.state
    if state == SessionState.PERMISSION_PROMPT:
        return (
            f"Claude is waiting for permission approval. POST {base}/approve to approve,"
            f" or {base}/reject to reject.",
            {
                "approve": Hint("POST", f"{base}/approve", "Approve the pending permission"),
                "reject": Hint("POST", f"{base}/reject", "Reject the pending permission"),
            },
        )
    if state == SessionState.ASKING:
        return (
            f"Claude asked a question: read it at GET {base}/pane, answer with POST"
            f" {base}/answer ({{option}} or {{text}}).",
            {"answer": Hint("POST", f"{base}/answer", "Answer the pending question")},
        )
    if state == SessionState.IDLE:
        return (
            f"Claude is idle, awaiting input: POST {base}/send.",
            {"send": Hint("POST", f"{base}/send", "Send the next prompt")},
        )
    if state == SessionState.STALLED:
        return (
            f"Claude is working but the screen has not changed for a while: POST"
            f" {base}/interrupt, or DELETE {base} to end it.",
            {
                "interrupt": Hint("POST", f"{base}/interrupt", "Interrupt the current turn"),
                "kill": Hint("POST", f"{base}/kill", "End the session"),
            },
        )
    if state == SessionState.WORKING:
        return "Claude is actively working.", {}
    if state == SessionState.QUEUED:
        waiting = record.details.get("queue") or {}
        return (
            f"Waiting in line (position {waiting.get('position', '?')}) for a place under the"
            f" {waiting.get('limit', 'session')} quota; it starts by itself. DELETE {base}"
            " leaves the line.",
            {},
        )
    if state == SessionState.STARTING:
        return "The sandbox is starting and the first prompt is not in yet; poll again.", {}
    if state == SessionState.ERROR:
        return f"The session failed: {record.error or 'see GET ' + base}.", {}
    if state == SessionState.EXITED:
        return (
            f"The session has ended; its transcript is at GET {base}/read and its changes"
            f" at GET {base}/artifacts.",
            {},
        )
    return "The screen shows nothing Warden recognises; read it at GET " + base + "/pane.", {}


def liveness(record: SessionRecord, *, has_transcript: bool) -> Liveness:
    """The health of ``record`` (its state the live one, when it runs here)."""
    ended = record.state in FINAL_STATES or record.ended_at is not None
    exists = record.container_id is not None and not ended
    running = exists and record.state not in (SessionState.STARTING, SessionState.UNKNOWN)
    details, hints = _hints(record)
    return Liveness(
        alive=not ended,
        container_exists=exists,
        claude_running=running,
        status=aegis_status(record.state),
        has_transcript=has_transcript,
        last_activity=record.updated_at,
        created_at=record.created_at,
        details=details,
        hints=hints,
    )


@dataclass(frozen=True)
class Stats:
    """Counts over a tenant's sessions (Aegis's ``/v1/sessions/stats``)."""

    active: int
    by_status: Mapping[str, int]
    total_created: int
    total_completed: int
    total_failed: int


def stats(records: Iterable[SessionRecord]) -> Stats:
    """``active`` counts sessions not ended; ``byStatus`` counts those by Aegis status."""
    by_status: dict[str, int] = {}
    active = created = completed = failed = 0
    for record in records:
        created += 1
        if record.state == SessionState.ERROR:
            failed += 1
        elif record.state == SessionState.EXITED or record.ended_at is not None:
            completed += 1
        else:
            active += 1
            status = aegis_status(record.state)
            by_status[status] = by_status.get(status, 0) + 1
    return Stats(active, by_status, created, completed, failed)


def select(
    records: Iterable[SessionRecord],
    *,
    status: str | None = None,
    work_dir: str | None = None,
    project: str | None = None,
) -> list[SessionRecord]:
    """The records in ``status`` (either vocabulary), of exactly ``work_dir``, and whose
    workDir contains ``project`` (case-insensitive, as Aegis's filter)."""
    wanted_dir = work_dir.rstrip("/") or "/" if work_dir is not None else None
    needle = project.lower() if project else None
    return [
        r
        for r in records
        if (status is None or matches_status(r, status))
        and (wanted_dir is None or (r.work_dir.rstrip("/") or "/") == wanted_dir)
        and (needle is None or needle in r.work_dir.lower())
    ]
