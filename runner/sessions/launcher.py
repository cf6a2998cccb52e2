"""Bringing a session's container up (or back, after a restart) and down again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from pathlib import Path

from runner.sandbox.backend import SandboxBackend, SandboxSpec
from runner.sandbox.statedir import prepare_session_dir
from runner.sessions.artifacts import workspace_archive, workspace_patch
from runner.sessions.driver import Driver
from runner.sessions.live import LiveSession, StateCallback
from runner.sessions.model import ArtifactRecord, SessionRecord, SessionStore, utcnow
from runner.sessions.policy_gate import PolicyGate
from runner.sessions.ports import GatewayFactory
from runner.sessions.runtime import SANDBOX_WORKDIR, Running, SessionPaths
from runner.sessions.transcript import transcript_path

log = logging.getLogger(__name__)


class Launcher:
    """Turns a session record into a running container with its gateway and screen."""

    def __init__(
        self,
        *,
        backend: SandboxBackend,
        gateways: GatewayFactory,
        cols: int,
        rows: int,
        stall_seconds: float,
        gate: PolicyGate,
        labels: dict[str, str] | None = None,
    ) -> None:
        self._backend = backend
        self._gateways = gateways
        self._cols = cols
        self._rows = rows
        self._stall_seconds = stall_seconds
        self._gate = gate
        self._labels = labels or {}

    def check_policy(self, record: SessionRecord) -> None:
        """Raises ``PolicyDeniedError`` (403, with the rule) when the policy refuses it."""
        self._gate.admit(record)

    async def launch(
        self, record: SessionRecord, paths: SessionPaths, *, on_state: StateCallback
    ) -> tuple[Running, str]:
        """Prepare the state dir, start the gateway, create and start the container."""
        token = paths.token()
        prepared = await asyncio.to_thread(
            prepare_session_dir,
            paths.root,
            work_dir=Path(record.work_dir),
            workspace_mode=record.workspace_mode,
            token=token,
        )
        gateway = self._gateways(
            record=record, socket_path=paths.socket, token=token, workspace=prepared.workspace
        )
        await gateway.start()
        try:
            spec = self._spec(record, paths, prepared.workspace, token)
            info = await self._backend.create(spec)
            await self._backend.start(info.id)
            running = self._watch(record, info.id, paths, gateway, on_state)
            await self._redraw(info.id)
        except BaseException:
            await gateway.close()
            raise
        return running, info.id

    async def adopt(
        self,
        record: SessionRecord,
        container_id: str,
        paths: SessionPaths,
        *,
        on_state: StateCallback,
    ) -> Running:
        """Re-attach to a container that survived a controller restart."""
        workspace = (
            paths.workspace_copy if record.workspace_mode == "copy" else Path(record.work_dir)
        )
        gateway = self._gateways(
            record=record, socket_path=paths.socket, token=paths.token(), workspace=workspace
        )
        await gateway.start()
        running = self._watch(record, container_id, paths, gateway, on_state)
        await self._redraw(container_id)
        return running

    async def _redraw(self, container_id: str) -> None:
        """Make tmux repaint the whole screen (attach only carries output from now on).

        A size change makes tmux redraw everything; going back restores the size.
        """
        await asyncio.sleep(0.3)  # let the attach stream connect first
        await self._backend.resize(container_id, self._cols - 1, self._rows)
        await asyncio.sleep(0.2)
        await self._backend.resize(container_id, self._cols, self._rows)

    def _watch(
        self,
        record: SessionRecord,
        container_id: str,
        paths: SessionPaths,
        gateway: object,
        on_state: StateCallback,
    ) -> Running:
        live = LiveSession(
            container_id=container_id,
            backend=self._backend,
            cols=self._cols,
            rows=self._rows,
            recording=paths.new_recording(),
            stall_seconds=self._stall_seconds,
            on_state=on_state,
        )
        live.start()
        return Running(live=live, driver=Driver(self._backend, live), gateway=gateway)  # type: ignore[arg-type]

    def _spec(
        self, record: SessionRecord, paths: SessionPaths, workspace: Path, token: str
    ) -> SandboxSpec:
        # The policy decides the container's limits and runtime, not the request.
        profile = self._gate.admit(record)
        return SandboxSpec(
            session_id=record.id,
            image=record.image,
            workspace=workspace,
            workspace_mode=record.workspace_mode,  # type: ignore[arg-type]
            home_dir=paths.home,
            run_dir=paths.run,
            env={**record.env},
            token=token,
            claude_session=record.id,
            permission_mode=record.permission_mode,
            model=record.model,
            cols=self._cols,
            rows=self._rows,
            # Docker refuses more CPUs than the host has; capping there is the same limit.
            cpus=min(profile.cpus, float(os.cpu_count() or profile.cpus)),
            memory_bytes=profile.memory_bytes,
            pids_limit=profile.pids,
            tmpfs_bytes=profile.tmpfs_bytes,
            runtime=None if profile.runtime == "runc" else profile.runtime,
            labels=self._labels,
        )

    async def detach(self, running: Running) -> None:
        """Stop watching (controller shutdown); the container keeps running."""
        await running.live.close()
        await running.gateway.close()

    async def remove_container(self, session_id: str, container_id: str | None) -> None:
        """Remove the session's container(s), found by id and by label: always gone."""
        ids = {info.id for info in await self._backend.list({"warden.session": session_id})}
        if container_id:
            ids.add(container_id)
        for cid in ids:
            await self._backend.remove(cid)

    async def collect(
        self, record: SessionRecord, paths: SessionPaths, store: SessionStore
    ) -> None:
        """Keep the workspace patch and archive, the transcript and the recording."""
        out = paths.artifacts
        out.mkdir(parents=True, exist_ok=True)
        files: list[Path] = []
        with contextlib.suppress(FileNotFoundError):
            if record.workspace_mode == "copy" and paths.workspace_copy.is_dir():
                patch = await asyncio.to_thread(
                    workspace_patch, Path(record.work_dir), paths.workspace_copy
                )
                (out / "changes.patch").write_text(patch, encoding="utf-8")
                files.append(out / "changes.patch")
                files.append(
                    await asyncio.to_thread(
                        workspace_archive, paths.workspace_copy, out / "workspace.tar.gz"
                    )
                )
            transcript = transcript_path(paths.home, SANDBOX_WORKDIR, record.id)
            if transcript.is_file():
                files.append(Path(shutil.copy2(transcript, out / "transcript.jsonl")))
            for segment in paths.recordings():
                files.append(Path(shutil.copy2(segment, out / segment.name)))
        for path in files:
            store.add_artifact(
                ArtifactRecord(record.id, path.name, str(path), path.stat().st_size, utcnow())
            )
