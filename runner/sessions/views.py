"""What a session shows: its screen, transcript, recording and artifacts (read-only)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from runner.core import Actor, SessionState, WorkspaceMode
from runner.errors import NotFoundError
from runner.sessions.mirror import SandboxMirror
from runner.sessions.model import ArtifactRecord, SessionRecord
from runner.sessions.registry import SessionRegistry
from runner.sessions.runtime import SANDBOX_WORKDIR, SessionPaths
from runner.sessions.transcript import Page, TranscriptReader, Turn, transcript_path
from runner.terminal.replay import replay_pane


class SessionViews:
    """Reads of a session, each checked for visibility first."""

    def __init__(
        self,
        registry: SessionRegistry,
        patch: Callable[[SessionRecord, SessionPaths], str],
        *,
        mirror: SandboxMirror | None = None,
    ) -> None:
        self._registry = registry
        self._mirror = mirror  # pulls from sandboxes that share no files (Pods)
        self._store = registry.store
        self._patch = patch
        self._readers: dict[str, TranscriptReader] = {}

    async def pane(self, session_id: str, actor: Actor) -> tuple[SessionState, str]:
        """The live screen text, or the screen replayed from the recording once ended."""
        record = await self._registry.get(session_id, actor)
        running = self._registry.live(session_id)
        if running is not None:
            return running.live.observed.state, running.live.pane()
        recording = self._registry.paths(session_id).recording
        if not recording.is_file():
            return record.state, ""
        return record.state, await asyncio.to_thread(replay_pane, recording)

    def _reader(self, record: SessionRecord) -> TranscriptReader:
        paths = self._registry.paths(record.id)
        path = transcript_path(paths.home, SANDBOX_WORKDIR, record.id)
        collected = paths.artifacts / "transcript.jsonl"
        if not path.is_file() and collected.is_file():
            path = collected  # HOME was in the quota volume, unmounted since the delete
        reader = self._readers.get(record.id)
        if reader is None or reader.path != path:
            reader = self._readers[record.id] = TranscriptReader(path)
        return reader

    async def _pull(self, record: SessionRecord, *, workspace: bool = False) -> None:
        """Bring the running sandbox's transcript (and workspace) to the host side."""
        running = self._registry.live(record.id)
        if self._mirror is None or running is None:
            return
        paths = self._registry.paths(record.id)
        await self._mirror.transcript(record, paths, running.live.container_id)
        if workspace:
            await self._mirror.workspace(record, paths, running.live.container_id)

    async def transcript(self, session_id: str, actor: Actor) -> list[Turn]:
        record = await self._registry.get(session_id, actor)
        await self._pull(record)
        return await asyncio.to_thread(self._reader(record).turns)

    async def transcript_page(
        self, session_id: str, actor: Actor, *, before_id: int | None, limit: int, role: str | None
    ) -> Page:
        record = await self._registry.get(session_id, actor)
        await self._pull(record)
        reader = self._reader(record)
        return await asyncio.to_thread(reader.page, before_id=before_id, limit=limit, role=role)

    async def recording(self, session_id: str, actor: Actor) -> Path:
        await self._registry.get(session_id, actor)
        path = self._registry.paths(session_id).recording
        if not path.is_file():
            raise NotFoundError(f"session {session_id} has no recording yet")
        return path

    async def artifacts(
        self, session_id: str, actor: Actor
    ) -> tuple[str | None, list[ArtifactRecord]]:
        """The workspace patch (computed now while running) and the collected artifacts."""
        record = await self._registry.get(session_id, actor)
        stored = await asyncio.to_thread(self._store.artifacts, session_id)
        paths = self._registry.paths(session_id)
        patch_file = paths.artifacts / "changes.patch"
        if patch_file.is_file():
            return patch_file.read_text(encoding="utf-8"), stored
        if record.workspace_mode != WorkspaceMode.COPY:
            return None, stored
        await self._pull(record, workspace=True)
        if not paths.workspace_copy.is_dir():
            return None, stored
        return await asyncio.to_thread(self._patch, record, paths), stored

    async def artifact_path(self, session_id: str, name: str, actor: Actor) -> Path:
        await self._registry.get(session_id, actor)
        for artifact in await asyncio.to_thread(self._store.artifacts, session_id):
            if artifact.name == name:
                return Path(artifact.path)
        raise NotFoundError(f"session {session_id} has no artifact {name!r}")
