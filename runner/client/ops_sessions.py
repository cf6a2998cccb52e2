"""Operations on sessions: create, list, drive, read, download, follow; uploads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from runner.api.aegis_schemas import SessionHealth, SessionStats, SessionSummary
from runner.api.schemas import (
    ActionResult,
    Artifacts,
    BatchCreate,
    BatchResult,
    CreateSession,
    EndedSession,
    Pane,
    SessionList,
    SessionOut,
    TerminalTicket,
    Transcript,
    TranscriptPage,
    UploadOut,
)
from runner.client.calls import (
    Call,
    Resume,
    as_text,
    body_of,
    download,
    endpoint,
    json_object,
    model,
    nothing,
    query,
    sse,
)
from runner.core import SessionState

_SESSION = "/v1/sessions/{session_id}"

#: Called on each dropped stream with the error and the event id it resumes after.
OnDrop = Callable[[Exception, int | None], None]
OnOpen = Callable[[int | None], None]


def _stream_query(
    types: Sequence[str] | None, states: Sequence[str] | None, follow: bool
) -> list[tuple[str, str]]:
    return query(type=list(types or ()), state=list(states or ()), follow=None if follow else False)


class SessionOperations:
    """``/v1/sessions…``, ``/v1/events`` and ``/v1/workspaces``."""

    @endpoint("POST", "/v1/sessions")
    def create_session(self, body: CreateSession | Mapping[str, Any]) -> Call[SessionOut]:
        """Start a session (answers at once, state ``starting``; ``reused`` on reuse).

        Args:
            body: a ``CreateSession`` or a mapping spelt as the API does (``workDir``…).
        """
        return Call(model(SessionOut), json=body_of(body))

    @endpoint("GET", "/v1/sessions")
    def list_sessions(
        self,
        states: Sequence[SessionState | str] = (),
        *,
        status: str | None = None,
        work_dir: str | None = None,
        page: int | None = None,
        page_size: int | None = None,
    ) -> Call[SessionList]:
        """The sessions the caller may see, optionally only those in ``states``, in
        ``status`` (either vocabulary) or of ``work_dir``; a page of them with ``page``."""
        params = query(
            state=list(states), status=status, workDir=work_dir, page=page, pageSize=page_size
        )
        return Call(model(SessionList), params=params)

    @endpoint("POST", "/v1/sessions/batch")
    def create_batch(self, body: BatchCreate | Mapping[str, Any]) -> Call[BatchResult]:
        """Start several sessions; each item succeeds or fails on its own."""
        return Call(model(BatchResult), json=body_of(body))

    @endpoint("GET", _SESSION)
    def get_session(self, session_id: str) -> Call[SessionOut]:
        """One session, with its live state."""
        return Call(model(SessionOut), path={"session_id": session_id})

    @endpoint("DELETE", _SESSION)
    def delete_session(self, session_id: str) -> Call[SessionOut]:
        """Collect the artifacts and remove the container; the record stays."""
        return Call(model(SessionOut), path={"session_id": session_id})

    @endpoint("POST", _SESSION + "/kill")
    def kill_session(self, session_id: str) -> Call[EndedSession]:
        """Aegis's kill: the same as ``delete_session``, with ``ok``."""
        return Call(model(EndedSession), path={"session_id": session_id})

    @endpoint("GET", "/v1/sessions/stats")
    def session_stats(self) -> Call[SessionStats]:
        """Counts over the tenant's sessions (Aegis's shape)."""
        return Call(model(SessionStats))

    @endpoint("GET", "/v1/sessions/health")
    def sessions_health(self) -> Call[dict[str, Any]]:
        """Every running session's health, by id (Aegis's shape)."""
        return Call(json_object)

    @endpoint("GET", _SESSION + "/health")
    def session_health(self, session_id: str) -> Call[SessionHealth]:
        """Liveness with what to do next (Aegis's shape)."""
        return Call(model(SessionHealth), path={"session_id": session_id})

    @endpoint("GET", _SESSION + "/summary")
    def session_summary(self, session_id: str) -> Call[SessionSummary]:
        """The last turns, condensed, with counts (Aegis's shape)."""
        return Call(model(SessionSummary), path={"session_id": session_id})

    @endpoint("POST", _SESSION + "/send")
    def send(self, session_id: str, text: str) -> Call[ActionResult]:
        """Send a prompt to an idle session (409 unless idle)."""
        return Call(model(ActionResult), path={"session_id": session_id}, json={"text": text})

    @endpoint("POST", _SESSION + "/approve")
    def approve(self, session_id: str, request: str | None = None) -> Call[ActionResult]:
        """Approve the pending tool call once; ``request`` names the hook request."""
        body = {"request": request} if request else None
        return Call(model(ActionResult), path={"session_id": session_id}, json=body)

    @endpoint("POST", _SESSION + "/reject")
    def reject(self, session_id: str) -> Call[ActionResult]:
        """Reject the permission prompt."""
        return Call(model(ActionResult), path={"session_id": session_id})

    @endpoint("POST", _SESSION + "/answer")
    def answer(
        self, session_id: str, *, option: int | None = None, text: str | None = None
    ) -> Call[ActionResult]:
        """Answer the agent's question: ``option`` (1-based) or ``text``, exactly one."""
        body = {"option": option} if option is not None else {"text": text}
        return Call(model(ActionResult), path={"session_id": session_id}, json=body)

    @endpoint("POST", _SESSION + "/interrupt")
    def interrupt(self, session_id: str) -> Call[ActionResult]:
        """Interrupt the agent's turn (Escape while it works)."""
        return Call(model(ActionResult), path={"session_id": session_id})

    @endpoint("POST", _SESSION + "/escape")
    def escape(self, session_id: str) -> Call[ActionResult]:
        """Press Escape (close a dialog)."""
        return Call(model(ActionResult), path={"session_id": session_id})

    @endpoint("GET", _SESSION + "/pane")
    def pane(self, session_id: str) -> Call[Pane]:
        """The screen as text right now."""
        return Call(model(Pane), path={"session_id": session_id})

    @endpoint("GET", _SESSION + "/read")
    def transcript(self, session_id: str) -> Call[Transcript]:
        """The parsed transcript, oldest turn first."""
        return Call(model(Transcript), path={"session_id": session_id})

    @endpoint("GET", _SESSION + "/transcript/cursor")
    def transcript_page(
        self,
        session_id: str,
        *,
        before_id: int | None = None,
        limit: int = 50,
        role: str | None = None,
    ) -> Call[TranscriptPage]:
        """A page of turns older than ``before_id`` (follow ``next_before_id``)."""
        params = query(beforeId=before_id, limit=limit, role=role)
        return Call(model(TranscriptPage), path={"session_id": session_id}, params=params)

    @download("GET", _SESSION + "/recording")
    def recording(self, session_id: str) -> Call[None]:
        """The asciicast v2 recording, as chunks of bytes."""
        return Call(nothing, path={"session_id": session_id})

    @endpoint("GET", _SESSION + "/artifacts")
    def artifacts(self, session_id: str) -> Call[Artifacts]:
        """The workspace patch and the stored artifact files (name, size, url)."""
        return Call(model(Artifacts), path={"session_id": session_id})

    @download("GET", _SESSION + "/artifacts/{name}")
    def artifact(self, session_id: str, name: str) -> Call[None]:
        """One stored artifact file, as chunks of bytes."""
        return Call(nothing, path={"session_id": session_id, "name": name})

    @endpoint("GET", _SESSION + "/patch")
    def patch(self, session_id: str) -> Call[str]:
        """The workspace changes as a unified diff (``git apply``-able)."""
        return Call(as_text, path={"session_id": session_id})

    @download("GET", _SESSION + "/patch")
    def download_patch(self, session_id: str) -> Call[None]:
        """The same diff, streamed as chunks of bytes (for large patches)."""
        return Call(nothing, path={"session_id": session_id})

    @endpoint("POST", _SESSION + "/terminal/ticket")
    def terminal_ticket(self, session_id: str) -> Call[TerminalTicket]:
        """A single-use ticket for the terminal WebSocket (``url`` is its path)."""
        return Call(model(TerminalTicket), path={"session_id": session_id})

    @sse(_SESSION + "/events")
    def session_events(
        self,
        session_id: str,
        *,
        last_event_id: int | None = None,
        types: Sequence[str] | None = None,
        states: Sequence[str] | None = None,
        follow: bool = True,
        retry_seconds: float | None = None,
        on_drop: OnDrop | None = None,
        on_open: OnOpen | None = None,
    ) -> Call[None]:
        """The session's events from its start (or after ``last_event_id``), then live.

        Args:
            follow: False: what is stored after the cursor, then the stream ends.
            retry_seconds: reconnect this long after a drop, resuming with
                ``Last-Event-ID`` after the last event seen; None: a drop raises
                ``WardenUnreachable``.
            on_drop: told of each drop (the error, the id it resumes after); what it
                raises ends the stream.
            on_open: told each time the server has answered (from then on nothing is
                missed), with the id it resumes after (None: no event seen yet).
        """
        return Call(
            nothing,
            path={"session_id": session_id},
            params=_stream_query(types, states, follow),
            resume=Resume(last_event_id, retry_seconds, on_drop, on_open),
        )

    @sse("/v1/events")
    def events(
        self,
        *,
        session: str | None = None,
        last_event_id: int | None = None,
        types: Sequence[str] | None = None,
        states: Sequence[str] | None = None,
        follow: bool = True,
        retry_seconds: float | None = None,
        on_drop: OnDrop | None = None,
        on_open: OnOpen | None = None,
    ) -> Call[None]:
        """Events of every session the caller may see: new ones, or after
        ``last_event_id`` (-1: from the ledger's start). Arguments as ``session_events``."""
        params = query(session=session) + _stream_query(types, states, follow)
        return Call(
            nothing, params=params, resume=Resume(last_event_id, retry_seconds, on_drop, on_open)
        )

    @endpoint("POST", "/v1/workspaces")
    def upload_workspace(
        self, content: bytes | Iterable[bytes], media_type: str
    ) -> Call[UploadOut]:
        """Upload a tar, tar.gz or zip (``media_type``: application/x-tar, application/gzip
        or application/zip); start a session from it with ``{"workspace": {"archive": id}}``."""
        headers = {"Content-Type": media_type}
        return Call(model(UploadOut), content=content, headers=headers)

    @endpoint("GET", "/v1/workspaces/{upload_id}")
    def get_upload(self, upload_id: str) -> Call[UploadOut]:
        """An upload that has not been used or expired yet."""
        return Call(model(UploadOut), path={"upload_id": upload_id})

    @endpoint("DELETE", "/v1/workspaces/{upload_id}")
    def discard_upload(self, upload_id: str) -> Call[None]:
        """Delete an upload you no longer need."""
        return Call(nothing, path={"upload_id": upload_id})
