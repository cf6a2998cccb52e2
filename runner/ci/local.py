"""``LocalTarget``: a run's session driven in this process, through the ``SessionManager``."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from audit.errors import AuditError
from audit.ledger import Ledger
from audit.stores.base import EventFilter
from runner.ci.events import EventView
from runner.ci.target import ARTIFACT_NAMES, RunSpec, SessionView
from runner.core import Actor
from runner.events.ledger import translate
from runner.sessions.manager import SessionManager
from runner.sessions.model import SessionRecord
from runner.sessions.requests import SessionRequest
from runner.sessions.views import SessionViews
from runner.workspace.source import SessionSource

_PAGE = 1000


def view_of(record: SessionRecord) -> SessionView:
    return SessionView(
        id=record.id,
        state=record.state,
        details=dict(record.details),
        error=record.error,
        usage=dict(record.usage),
        model=record.model,
    )


def is_run_artifact(name: str) -> bool:
    return name in ARTIFACT_NAMES or (name.startswith("recording.") and name.endswith(".cast"))


class LocalTarget:
    """Sessions of this process's manager; audit events read from its ledger."""

    def __init__(
        self, manager: SessionManager, views: SessionViews, ledger: Ledger, actor: Actor
    ) -> None:
        self._manager = manager
        self._views = views
        self._ledger = ledger
        self._actor = actor

    async def create(self, spec: RunSpec) -> str:
        earlier = spec.workspace_from
        request = SessionRequest(
            work_dir=str(spec.work_dir),
            prompt=spec.prompt,
            policy=spec.policy,
            image=spec.image,
            model=spec.model,
            env=dict(spec.env),
            unattended=True,
            workspace=SessionSource(earlier) if earlier is not None else None,
        )
        record, _reused = await self._manager.create(request, self._actor)
        return record.id

    async def session(self, session_id: str) -> SessionView:
        return view_of(await self._manager.get(session_id, self._actor))

    async def events(self, session_id: str, after: int | None) -> list[EventView]:
        found: list[EventView] = []
        cursor = after
        while True:
            try:
                flt = EventFilter(session=session_id)
                page = await asyncio.to_thread(
                    self._ledger.query, flt, after_seq=cursor, limit=_PAGE
                )
            except AuditError as exc:
                raise translate(exc) from exc
            found += [
                EventView(e.record.seq, e.event.type, e.event.actor, e.event.data)
                for e in page.entries
            ]
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    async def delete(self, session_id: str) -> SessionView:
        return view_of(await self._manager.delete(session_id, self._actor))

    async def download(self, session_id: str, out: Path) -> list[Path]:
        _patch, stored = await self._views.artifacts(session_id, self._actor)
        copied: list[Path] = []
        for artifact in stored:
            if is_run_artifact(artifact.name):
                copied.append(Path(shutil.copy2(artifact.path, out / artifact.name)))
        return copied

    async def export_audit(self, session_id: str, out: Path) -> None:
        try:
            await asyncio.to_thread(self._ledger.export, out, EventFilter(session=session_id))
        except AuditError as exc:
            raise translate(exc) from exc
