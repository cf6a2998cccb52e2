"""Bringing what the agent wrote to the controller's side, where the sandbox shares no files.

With Docker the session's home and workspace copy are bind mounts: the controller
reads the agent's files where they are, and this does nothing. A Pod's volumes are its
own, so before the controller reads them the transcript is appended to its host-side
path from the sandbox (read on from the host file's length), and in copy mode the
workspace copy is replaced by the sandbox's ``/workspace``. The transcript reader, the
patch and the archive then work on the same host paths with either backend.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tarfile
import tempfile
from pathlib import Path

from runner.core import WorkspaceMode
from runner.errors import SandboxError
from runner.sandbox.backend import READ_LIMIT, SANDBOX_HOME, SandboxBackend
from runner.sessions.model import SessionRecord
from runner.sessions.runtime import SANDBOX_WORKDIR, SessionPaths
from runner.sessions.transcript import transcript_path

log = logging.getLogger(__name__)

#: The most a pulled workspace may weigh (as a tar); the Pod's own ephemeral-storage
#: limit (policy ``container.disk``) is usually far lower.
WORKSPACE_LIMIT = 8 * 1024**3


class SandboxMirror:
    """Pulls a session's transcript and workspace out of its sandbox when needed."""

    def __init__(self, backend: SandboxBackend) -> None:
        self._backend = backend
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def is_needed(self) -> bool:
        """False when the backend shares the host directories (Docker): no copying."""
        return not self._backend.shares_files

    def _lock(self, session_id: str) -> asyncio.Lock:
        return self._locks.setdefault(session_id, asyncio.Lock())

    async def transcript(self, record: SessionRecord, paths: SessionPaths, sandbox: str) -> None:
        """Append what the sandbox's transcript has beyond the host copy's length."""
        if not self.is_needed:
            return
        host = transcript_path(paths.home, SANDBOX_WORKDIR, record.id)
        inside = transcript_path(Path(SANDBOX_HOME), SANDBOX_WORKDIR, record.id).as_posix()
        async with self._lock(record.id):
            offset = await asyncio.to_thread(_size, host)
            while True:
                chunk = await self._backend.read_file(sandbox, inside, offset=offset)
                if not chunk:
                    return
                await asyncio.to_thread(_append, host, chunk)
                offset += len(chunk)
                if len(chunk) < READ_LIMIT:
                    return

    async def workspace(self, record: SessionRecord, paths: SessionPaths, sandbox: str) -> None:
        """Copy mode: make the host copy what the sandbox's /workspace holds now.

        Raises:
            SandboxError: the tar failed or was too large (the host copy is untouched).
        """
        if not self.is_needed or record.workspace_mode != WorkspaceMode.COPY:
            return
        async with self._lock(record.id):
            with tempfile.TemporaryDirectory(dir=paths.root, prefix=".pull-") as scratch:
                tar = Path(scratch) / "workspace.tar"
                await self._backend.archive(sandbox, SANDBOX_WORKDIR, tar, limit=WORKSPACE_LIMIT)
                await asyncio.to_thread(_replace, tar, Path(scratch) / "tree", paths)

    async def pull(self, record: SessionRecord, paths: SessionPaths) -> None:
        """Both, before the session's artifacts are collected; a failure is logged (the
        sandbox may be gone already) and collection goes on with what is there."""
        if not self.is_needed or not record.container_id:
            return
        for step in (self.transcript, self.workspace):
            try:
                await step(record, paths, record.container_id)
            except SandboxError as exc:
                log.warning("session %s: %s not pulled: %s", record.id, step.__name__, exc)

    def forget(self, session_id: str) -> None:
        self._locks.pop(session_id, None)


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def _append(path: Path, chunk: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as fh:
        fh.write(chunk)


def _keep(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """Tar's "data" filter, skipping what it refuses instead of failing the whole pull.

    WHY: the tar is the agent's. No absolute path, no "..", no link out of the tree, no
    device or fifo, no set-id bit reaches the controller's disk. A venv's link to
    /usr/bin/python3 is dropped like that, which the patch would skip anyway (it
    leaves links out).
    """
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError as exc:
        log.info("not taken from the sandbox: %s (%s)", member.name, exc)
        return None


def _replace(tar: Path, tree: Path, paths: SessionPaths) -> None:
    """Unpack the sandbox's tar beside the copy, then swap it in.

    Raises:
        SandboxError: the tar is unreadable (the host copy is untouched).
    """
    tree.mkdir()
    try:
        with tarfile.open(tar) as archive:
            archive.extractall(tree, filter=_keep)  # noqa: S202 (each member through _keep)
    except (tarfile.TarError, OSError) as exc:
        raise SandboxError(f"the sandbox's workspace could not be unpacked: {exc}") from exc
    copy = paths.workspace_copy
    old = tree.parent / "old"
    if copy.exists():
        copy.rename(old)
    tree.rename(copy)
    shutil.rmtree(old, ignore_errors=True)
