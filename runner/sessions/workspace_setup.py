"""Putting an admitted workspace into a new session's directory, bounded and cancellable.

``prepare`` runs in a worker thread: the quota volume (when the policy sets
``container.disk``), HOME, then the source (extract the upload, clone the repository,
or copy an earlier session's copy into ``source/``), then the copy into ``workspace/``
(copy mode) or a bind of the checked directory by descriptor (ro/rw). Progress goes
into the session's details (the state stays ``starting``); cancelling (a DELETE while
starting) stops the thread at its next file or chunk and removes what it wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runner.core import WorkspaceMode
from runner.policy import ContainerProfile
from runner.sandbox import hostmounts
from runner.sandbox.quota import DiskVolumes
from runner.sandbox.statedir import SessionDir, make_session_dir, sandbox_owner
from runner.sessions.artifacts import workspace_patch
from runner.sessions.model import SessionRecord, SessionStore
from runner.sessions.policy_gate import PolicyGate
from runner.sessions.runtime import SessionPaths
from runner.sessions.workspace_gate import upload_file
from runner.sessions.workspace_sources import SourceFetcher
from runner.workspace.copier import copy_tree, inode_of
from runner.workspace.fstree import opened_dir
from runner.workspace.limits import Limits, Tally
from runner.workspace.source import PathSource, from_json

log = logging.getLogger(__name__)

#: Where a ro/rw host directory is bound (by descriptor) inside the session directory.
HOST_BIND = "hostdir"


class WorkspaceSetup:
    """Prepares, re-attaches and releases sessions' workspaces (see the module docstring)."""

    def __init__(
        self,
        *,
        volumes: DiskVolumes,
        store: SessionStore,
        gate: PolicyGate,
        fetcher: SourceFetcher,
        avoid: tuple[Path, ...],
        quota_required: bool,
    ) -> None:
        self._volumes = volumes
        self._store = store
        self._gate = gate
        self._fetcher = fetcher
        self._avoid = avoid
        self._quota_required = quota_required
        self._reports: dict[str, dict[str, Any]] = {}

    def details(self, record: SessionRecord) -> dict[str, Any]:
        """``{"workspace": …}`` to keep in the session's details across state changes."""
        report = self._reports.get(record.id) or record.details.get("workspace")
        return {"workspace": report} if report else {}

    async def prepare(
        self, record: SessionRecord, paths: SessionPaths, profile: ContainerProfile
    ) -> SessionDir:
        """Make the session directory and its workspace; cancellable (see module docstring)."""
        cancel = threading.Event()
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(None, self._prepare, record, paths, profile, cancel)
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            cancel.set()  # the thread stops at its next entry or chunk, and cleans up
            with contextlib.suppress(Exception):
                await job
            raise

    def _prepare(
        self,
        record: SessionRecord,
        paths: SessionPaths,
        profile: ContainerProfile,
        cancel: threading.Event,
    ) -> SessionDir:
        try:
            return self._build(record, paths, profile, cancel)
        except BaseException:
            self._discard(paths)
            raise

    def _build(
        self,
        record: SessionRecord,
        paths: SessionPaths,
        profile: ContainerProfile,
        cancel: threading.Event,
    ) -> SessionDir:
        report = self._layout(paths, profile)
        return self._fill(record, paths, report, cancel)

    def _layout(self, paths: SessionPaths, profile: ContainerProfile) -> dict[str, Any]:
        """The session directory, its quota volume and HOME; returns the report so far."""
        owner = sandbox_owner()
        report: dict[str, Any] = {"phase": "preparing", **self._disk(paths, profile, owner)}
        make_session_dir(paths.root, token=paths.token(), owner=owner)
        return report

    def _fill(
        self,
        record: SessionRecord,
        paths: SessionPaths,
        report: dict[str, Any],
        cancel: threading.Event,
    ) -> SessionDir:
        """Fetch the source and copy (or bind) the workspace into the laid-out directory."""
        owner = sandbox_owner()
        rules = self._gate.policy(record.policy).workspace
        limits = Limits(rules.max_bytes, rules.max_files, record.policy)
        source = from_json(record.workspace, record.work_dir)

        def progress(phase: str) -> Callable[[Tally], None]:
            def update(tally: Tally) -> None:
                self._report(record, {**report, "phase": phase, **tally.summary()})

            return update

        if not isinstance(source, PathSource):
            self._report(record, {**report, "phase": "fetching"})
            fetch = Tally(limits, cancel=cancel, progress=progress("fetching"))
            self._fetcher.fetch(source, paths, upload_file(paths), rules, fetch, owner)
        origin = self.origin_path(record, paths)
        if record.workspace_mode != WorkspaceMode.COPY:
            workspace = origin  # a fetched source: the controller's own directory
            if isinstance(source, PathSource):
                workspace = self._bind(origin, paths)
            self._report(record, {**report, "phase": "ready"})
        else:
            workspace = paths.workspace_copy
            tally = Tally(limits, cancel=cancel, progress=progress("copying"))
            self._copy(origin, workspace, tally, owner)
            self._report(record, {**report, "phase": "ready", **tally.summary()})
        return SessionDir(paths.root, paths.home, paths.run, workspace)

    async def lay_out_empty(self, paths: SessionPaths, profile: ContainerProfile) -> Path:
        """A pooled sandbox's directory: volume, HOME and an empty workspace to mount.

        Returns the workspace directory; :meth:`fill` copies a session's files into it.
        """
        return await asyncio.to_thread(self._lay_out_empty, paths, profile)

    def _lay_out_empty(self, paths: SessionPaths, profile: ContainerProfile) -> Path:
        try:
            self._layout(paths, profile)
            workspace = paths.workspace_copy
            if not workspace.exists():
                workspace.mkdir(mode=0o755)
            owner = sandbox_owner()
            if owner is not None:
                os.chown(os.path.realpath(workspace), *owner)
            return workspace
        except BaseException:
            self._discard(paths)
            raise

    async def fill(
        self, record: SessionRecord, paths: SessionPaths, profile: ContainerProfile
    ) -> SessionDir:
        """A claimed pooled sandbox: its session's workspace, copied into the mounted
        directory (copy mode only); cancellable like :meth:`prepare`."""
        report: dict[str, Any] = {"phase": "preparing"}
        if profile.disk_bytes is not None:
            enforced = self._volumes.is_mounted(paths.root)
            report["disk"] = {"bytes": profile.disk_bytes, "enforced": enforced}
        cancel = threading.Event()
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(None, self._fill, record, paths, report, cancel)
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            cancel.set()
            with contextlib.suppress(Exception):
                await job
            raise

    async def remove(self, paths: SessionPaths) -> None:
        """A pooled sandbox no session took: everything it had on the host goes."""
        await asyncio.to_thread(self._remove, paths)

    def _remove(self, paths: SessionPaths) -> None:
        self._discard(paths)
        shutil.rmtree(paths.root, ignore_errors=True)

    def _bind(self, origin: Path, paths: SessionPaths) -> Path:
        """The caller's host directory for a ro/rw mount: bound by descriptor, so the
        container gets the directory that was checked even if its path is re-pointed."""
        with opened_dir(origin) as fd:  # fails if a link was swapped in since the check
            missing = hostmounts.can_mount()
            if missing is None:
                hostmounts.bind_fd(fd, paths.root / HOST_BIND)
                return paths.root / HOST_BIND
        # Without mount rights the daemon gets the checked path itself: a swap between
        # this open and the container's creation is not caught (docs/threat-model.md).
        log.warning("session %s: %s; mounting %s by path", paths.root.name, missing, origin)
        return origin

    def _disk(
        self, paths: SessionPaths, profile: ContainerProfile, owner: tuple[int, int] | None
    ) -> dict[str, Any]:
        paths.root.mkdir(parents=True, exist_ok=True)
        paths.root.chmod(0o700)
        if profile.disk_bytes is None:
            return {}
        if self._volumes.probe().enforced:
            self._volumes.create(paths.root, profile.disk_bytes, owner)
            return {"disk": {"bytes": profile.disk_bytes, "enforced": True}}
        # Only reachable when the operator opted out (WARDEN_DISK_QUOTA_REQUIRED=false).
        log.warning("session %s: container.disk is not enforced on this host", paths.root.name)
        return {"disk": {"bytes": profile.disk_bytes, "enforced": False}}

    def _copy(
        self, origin: Path, workspace: Path, tally: Tally, owner: tuple[int, int] | None
    ) -> None:
        if not workspace.exists():
            workspace.mkdir(mode=0o755)
        target = Path(os.path.realpath(workspace))  # our own link into the quota volume
        if owner is not None:
            os.chown(target, *owner)
        avoid = []
        for path in self._avoid:
            with contextlib.suppress(OSError), opened_dir(Path(os.path.realpath(path))) as fd:
                avoid.append(inode_of(fd))
        with opened_dir(origin) as src, opened_dir(target) as dst:
            copy_tree(src, dst, tally=tally, owner=owner, avoid=avoid)

    def origin_path(self, record: SessionRecord, paths: SessionPaths) -> Path:
        """The pristine tree the workspace started from (a resolved path, opened by fd)."""
        source = from_json(record.workspace, record.work_dir)
        if isinstance(source, PathSource):
            return Path(source.path)
        return Path(os.path.realpath(paths.source))

    def patch(self, record: SessionRecord, paths: SessionPaths) -> str:
        """The workspace's changes against its origin, read by descriptor on both sides
        (the origin is opened without following any link: a swapped-in one fails it)."""
        return workspace_patch(self.origin_path(record, paths), paths.workspace_copy)

    def _report(self, record: SessionRecord, report: Mapping[str, Any]) -> None:
        self._reports[record.id] = dict(report)
        try:
            self._store.update(record.id, details={"workspace": dict(report)})
        except Exception:
            log.exception("session %s: could not store its workspace progress", record.id)

    async def reattach(self, paths: SessionPaths) -> None:
        """After a controller restart: the session's volume must be mounted again."""
        await asyncio.to_thread(self._volumes.ensure_mounted, paths.root)

    async def release(self, paths: SessionPaths) -> None:
        """A deleted session: unmount what was mounted (its volume's image is kept)."""
        await asyncio.to_thread(self._release, paths)

    def _release(self, paths: SessionPaths) -> None:
        hostmounts.unmount(paths.root / HOST_BIND)
        self._volumes.unmount(paths.root)

    async def discard(self, paths: SessionPaths) -> None:
        """Remove what a session that failed to start wrote (see :meth:`_discard`)."""
        await asyncio.to_thread(self._discard, paths)

    def _discard(self, paths: SessionPaths) -> None:
        """A session that never started: nothing it wrote stays on the host."""
        try:
            self._release(paths)
            self._volumes.discard(paths.root)
            for name in ("source", "workspace"):
                target = paths.root / name
                if target.is_symlink():
                    target.unlink()
                elif target.exists():
                    shutil.rmtree(target)
            upload_file(paths).unlink(missing_ok=True)
        except Exception:
            log.exception("could not remove the partial workspace of %s", paths.root.name)
