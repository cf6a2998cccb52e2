"""Each new transcript turn becomes one ``transcript.turn`` event, exactly once.

Clients follow a session's conversation as ``message`` events (``runner.events``), and
a reconnecting client must get the turns it missed, also after a controller restart.
So each turn is recorded in the ledger, which gives it a durable id; where a session's
recording stopped is read back from the ledger (``last_cursor``), never kept only in
memory. Turns are read when the session's state changes (before that state is
reported, so a client sees the turns of a step before the ``idle`` that ends it) and
every ``poll_seconds`` while it runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from runner.core import Actor, EventSink
from runner.sessions.mirror import SandboxMirror
from runner.sessions.registry import SessionRegistry
from runner.sessions.runtime import SANDBOX_WORKDIR
from runner.sessions.transcript import TranscriptReader, Turn, transcript_path

log = logging.getLogger(__name__)

#: The cursor of the newest turn the ledger already has for a session (0: none).
LastCursor = Callable[[str], Awaitable[int]]

#: Turns are events, not the transcript: long texts are cut (the full turn stays in
#: ``/transcript/cursor``), so one chatty step cannot bloat the ledger.
TEXT_LIMIT = 4000
INPUT_LIMIT = 500


class TurnRecorder:
    """Records new transcript turns of the running sessions as ledger events."""

    def __init__(
        self,
        registry: SessionRegistry,
        events: EventSink,
        last_cursor: LastCursor,
        *,
        poll_seconds: float = 1.0,
        mirror: SandboxMirror | None = None,
    ) -> None:
        self._registry = registry
        self._mirror = mirror  # pulls the transcript from sandboxes that share no files
        self._events = events
        self._last_cursor = last_cursor
        self._poll_seconds = poll_seconds
        self._readers: dict[str, TranscriptReader] = {}
        self._cursors: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def catch_up(self, session_id: str) -> None:
        """Record the turns written since the last recorded one (never twice)."""
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            cursor = self._cursors.get(session_id)
            if cursor is None:
                cursor = self._cursors[session_id] = await self._last_cursor(session_id)
            reader = self._readers.get(session_id)
            if reader is None:
                home = self._registry.paths(session_id).home
                path = transcript_path(home, SANDBOX_WORKDIR, session_id)
                reader = self._readers[session_id] = TranscriptReader(path)
            await self._pull(session_id)
            turns = await asyncio.to_thread(reader.turns)
            for turn in turns:
                if turn.id <= cursor:
                    continue
                await self._events.emit(
                    "transcript.turn", actor=Actor.system(), session=session_id, data=_data(turn)
                )
                cursor = self._cursors[session_id] = turn.id

    async def _pull(self, session_id: str) -> None:
        running = self._registry.live(session_id)
        if self._mirror is None or running is None:
            return
        record = await asyncio.to_thread(self._registry.store.get, session_id)
        if record is not None:
            paths = self._registry.paths(session_id)
            await self._mirror.transcript(record, paths, running.live.container_id)

    def forget(self, session_id: str) -> None:
        self._readers.pop(session_id, None)
        self._cursors.pop(session_id, None)
        self._locks.pop(session_id, None)

    async def run(self) -> None:
        """Poll the running sessions' transcripts until cancelled."""
        while True:
            await asyncio.sleep(self._poll_seconds)
            for session_id in self._registry.running_ids():
                try:
                    await self.catch_up(session_id)
                except Exception:
                    log.exception("session %s: could not record its transcript turns", session_id)


def _data(turn: Turn) -> dict[str, Any]:
    return {
        "cursor": turn.id,
        "role": turn.role,
        "text": _cut(turn.text, TEXT_LIMIT),
        "truncated": len(turn.text) > TEXT_LIMIT,
        "toolUses": [
            {"id": u.get("id"), "name": u.get("name"), "input": _inputs(u.get("input"))}
            for u in turn.tool_uses
        ],
        "toolResults": [
            {"toolUseId": r.get("toolUseId"), "content": _cut(str(r.get("content")), INPUT_LIMIT)}
            for r in turn.tool_results
        ],
        "uuid": turn.uuid,
        "at": turn.timestamp,
    }


def _inputs(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    return {
        str(k): _cut(v, INPUT_LIMIT) if isinstance(v, str) else v
        for k, v in value.items()
        if isinstance(v, str | int | float | bool) or v is None
    }


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit]
