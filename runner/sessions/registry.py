"""The sessions this controller watches, and reads of their records with visibility checks.

Both the lifecycle (``SessionManager``) and the read-only views (``SessionViews``) use
it; neither knows the other.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from runner.core import Actor, SessionState
from runner.errors import ConflictError, NotFoundError
from runner.sessions.model import SessionRecord, SessionStore
from runner.sessions.runtime import Running, SessionPaths


class SessionRegistry:
    """Running sessions by id, their host directories, and tenant-checked reads."""

    def __init__(self, store: SessionStore, sessions_dir: Path) -> None:
        self.store = store
        self._sessions_dir = sessions_dir
        self._running: dict[str, Running] = {}
        #: Sessions whose first prompt is not in yet: they show ``starting``.
        self.briefing: set[str] = set()

    def paths(self, session_id: str) -> SessionPaths:
        return SessionPaths(self._sessions_dir / session_id)

    async def get(self, session_id: str, actor: Actor) -> SessionRecord:
        """The session, if it exists in the actor's tenant (404 otherwise, never 403)."""
        record = await asyncio.to_thread(self.store.get, session_id)
        if record is None or not is_visible(record, actor):
            raise NotFoundError(f"no session {session_id}")
        return self.current(record)

    def current(self, record: SessionRecord) -> SessionRecord:
        """The record with the live screen's state: the store lags it by a write."""
        running = self._running.get(record.id)
        if running is None or record.id in self.briefing:
            return record
        observed = running.live.observed
        # The workspace's report (its size, skipped entries, quota) and the startup
        # breakdown outlive screen states.
        kept = {k: v for k, v in record.details.items() if k in ("workspace", "startup")}
        return replace(record, state=observed.state, details={**kept, **observed.details})

    async def find(
        self, actor: Actor, states: list[SessionState] | None = None
    ) -> list[SessionRecord]:
        tenant = None if actor.sees_all_tenants else actor.tenant
        records = await asyncio.to_thread(self.store.find, tenant=tenant)
        current = [self.current(r) for r in records]
        return [r for r in current if states is None or r.state in states]

    def live(self, session_id: str) -> Running | None:
        """The session's live parts, if this controller is watching it."""
        return self._running.get(session_id)

    def running(self, session_id: str) -> Running:
        running = self._running.get(session_id)
        if running is None:
            raise ConflictError(f"session {session_id} is not running")
        return running

    def running_ids(self) -> list[str]:
        """The ids of the sessions this controller watches now."""
        return list(self._running)

    def is_running(self, session_id: str) -> bool:
        return session_id in self._running

    def add(self, session_id: str, running: Running) -> None:
        self._running[session_id] = running

    def pop(self, session_id: str) -> Running | None:
        return self._running.pop(session_id, None)

    def drain(self) -> list[Running]:
        """Forget every running session (controller shutdown) and return them."""
        running = list(self._running.values())
        self._running.clear()
        return running


def is_visible(record: SessionRecord, actor: Actor) -> bool:
    return actor.sees_all_tenants or record.tenant == actor.tenant
