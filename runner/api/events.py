"""Server-sent events: ``/v1/sessions/{id}/events`` and ``/v1/events``.

Each event's ``id:`` is its ledger seq. A client that reconnects with ``Last-Event-ID``
(or ``?after=``, for a first connection from a browser's ``EventSource``) gets exactly
the events after it, replayed from the ledger, then live ones. Keep-alive comments go
out every ``sse_ping_seconds``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse

from runner.api.deps import FeedDep, ManagerDep, SettingsDep, ViewerDep
from runner.errors import InvalidInputError
from runner.events.catalogue import PUBLIC_TYPES
from runner.events.feed import EventFeed, Selection

router = APIRouter(tags=["events"])

_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "An SSE stream"}
}

LastEventId = Annotated[
    str | None,
    Header(alias="Last-Event-ID", description="Resume after this event id (a ledger seq)."),
]
After = Annotated[int | None, Query(ge=-1, description="Resume after this event id.")]
Types = Annotated[list[str] | None, Query(alias="type", description="Only these event types.")]
Follow = Annotated[
    bool, Query(description="false: send what is stored after the cursor, then close.")
]
States = Annotated[
    list[str] | None, Query(alias="state", description="Only session.state events of these.")
]


def _resume(last_event_id: str | None, after: int | None) -> int | None:
    if last_event_id is None or last_event_id == "":
        return after
    try:
        value = int(last_event_id)
    except ValueError:
        raise InvalidInputError(
            f"Last-Event-ID {last_event_id!r} is not an event id: ids are integers"
        ) from None
    if value < -1:
        raise InvalidInputError("Last-Event-ID must be -1 or more")
    return value


def _types(types: list[str] | None) -> frozenset[str] | None:
    if not types:
        return None
    unknown = sorted(set(types) - set(PUBLIC_TYPES))
    if unknown:
        raise InvalidInputError(
            f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(PUBLIC_TYPES)}"
        )
    return frozenset(types)


async def _stream(
    feed: EventFeed, selection: Selection, after: int | None, follow: bool
) -> AsyncIterator[bytes]:
    start = after if after != -1 else None
    if follow:
        async for batch in feed.follow(selection, start):
            yield b"".join(event.sse for event in batch)  # one write for what came together
        return
    async for event, _ in feed.replay(selection, start):
        if event is not None:
            yield event.sse


def _response(
    feed: EventFeed, selection: Selection, after: int | None, ping: float, follow: bool
) -> EventSourceResponse:
    return EventSourceResponse(
        _stream(feed, selection, after, follow),
        ping=ping,
        # A client that stops reading is cut off rather than buffered without end; it
        # resumes with Last-Event-ID.
        send_timeout=30,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/v1/sessions/{session_id}/events", response_class=EventSourceResponse, responses=_STREAM
)
async def session_events(
    session_id: str,
    manager: ManagerDep,
    feed: FeedDep,
    settings: SettingsDep,
    actor: ViewerDep,
    last_event_id: LastEventId = None,
    after: After = None,
    types: Types = None,
    states: States = None,
    follow: Follow = True,
) -> EventSourceResponse:
    """The session's events from its start (or after ``Last-Event-ID``), then live."""
    await manager.get(session_id, actor)  # 404 unless the caller may see it
    selection = Selection(
        session=session_id, types=_types(types), states=frozenset(states) if states else None
    )
    return _response(
        feed, selection, _resume(last_event_id, after), settings.sse_ping_seconds, follow
    )


@router.get("/v1/events", response_class=EventSourceResponse, responses=_STREAM)
async def all_events(
    feed: FeedDep,
    settings: SettingsDep,
    actor: ViewerDep,
    last_event_id: LastEventId = None,
    after: After = None,
    session: Annotated[str | None, Query(description="Only this session's events.")] = None,
    types: Types = None,
    states: States = None,
    follow: Follow = True,
) -> EventSourceResponse:
    """Events of every session the caller may see: new ones, or after ``Last-Event-ID``."""
    resume = _resume(last_event_id, after)
    if resume is None:
        resume = feed.head()  # a global stream starts now, not at the ledger's beginning
        resume = -1 if resume is None else resume
    selection = Selection(
        session=session,
        tenant=None if actor.sees_all_tenants else actor.tenant,
        types=_types(types),
        states=frozenset(states) if states else None,
    )
    return _response(feed, selection, resume, settings.sse_ping_seconds, follow)
