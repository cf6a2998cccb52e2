"""Bringing a session's container up (or back, after a restart) and down again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from runner.core import SessionState, WorkspaceMode, utcnow
from runner.errors import SandboxError
from runner.policy import ContainerProfile
from runner.sandbox.backend import (
    POOL_LABEL,
    SESSION_LABEL,
    ImageInfo,
    SandboxBackend,
    SandboxInfo,
    SandboxSpec,
)
from runner.sessions.artifacts import workspace_archive
from runner.sessions.driver import Driver
from runner.sessions.live import LiveSession, SettleTimes, StateCallback
from runner.sessions.mirror import SandboxMirror
from runner.sessions.model import ArtifactRecord, SessionRecord, SessionStore
from runner.sessions.ports import GatewayFactory, GatewayHandle
from runner.sessions.runtime import SANDBOX_WORKDIR, Running, SessionPaths
from runner.sessions.settle import settle_transcript
from runner.sessions.startup import StartupClock
from runner.sessions.transcript import transcript_path
from runner.sessions.workspace_setup import HOST_BIND, WorkspaceSetup
from runner.telemetry.traces import SessionTraces
from runner.workspace.source import PathSource, from_json

log = logging.getLogger(__name__)

#: How long a re-adopted session's tmux gets to repaint at the interim size.
_REDRAW_SECONDS = 2.0


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
        setup: WorkspaceSetup,
        delivery_seconds: float = 15.0,
        settle: SettleTimes | None = None,
        labels: dict[str, str] | None = None,
        traces: SessionTraces | None = None,
        on_input_retry: Callable[[], None] | None = None,
        tenure: Callable[[str], Callable[[], bool]] | None = None,
    ) -> None:
        self._backend = backend
        #: A session's check that this controller's tenure of it (its lease) still lasts.
        self._tenure = tenure
        self._on_input_retry = on_input_retry
        self._traces = traces or SessionTraces()
        #: Brings the agent's files to this host where the sandbox shares none (Pods).
        self.mirror = SandboxMirror(backend)
        self._setup = setup
        self._gateways = gateways
        self._cols = cols
        self._rows = rows
        self._stall_seconds = stall_seconds
        self._delivery_seconds = delivery_seconds
        self._settle = settle or SettleTimes()
        self._labels = labels or {}

    async def launch(
        self,
        record: SessionRecord,
        paths: SessionPaths,
        profile: ContainerProfile,
        image: ImageInfo,
        *,
        on_state: StateCallback,
        clock: StartupClock | None = None,
    ) -> tuple[Running, str]:
        """Prepare the state dir, start the gateway, create and start the container.

        ``profile`` is what the policy admitted: the container's limits and runtime;
        ``image`` the image it judged, which the container is created from by id (a tag
        moved since then cannot put another image in its place). ``clock`` gets a mark
        at the end of each step.
        """
        clock = clock or StartupClock()
        token = paths.token()
        # Bounded, cancellable, confined (runner.sessions.workspace_setup); a DELETE now
        # stops it and leaves nothing behind.
        with self._traces.span(record.id, "workspace.prepare"):
            prepared = await self._setup.prepare(record, paths, profile)
        clock.mark("workspace")
        try:
            return await self._start(
                record, paths, profile, image, token, prepared.workspace, on_state, clock
            )
        except BaseException:
            await self._setup.discard(paths)
            raise

    async def _start(
        self,
        record: SessionRecord,
        paths: SessionPaths,
        profile: ContainerProfile,
        image: ImageInfo,
        token: str,
        workspace: Path,
        on_state: StateCallback,
        clock: StartupClock,
    ) -> tuple[Running, str]:
        gateway = self._gateways(
            record=record, socket_path=paths.socket, token=token, workspace=workspace
        )
        spec = self._spec(record, paths, workspace, token, profile, image)

        async def serve() -> None:
            with self._traces.span(record.id, "gateway.start"):
                await gateway.start()

        async def create() -> SandboxInfo:
            with self._traces.span(record.id, "container.create", {"warden.image": spec.image}):
                return await self._backend.create(spec)

        # Independent of each other, so not one after the other: nothing in the container
        # can reach the gateway before the container is started, below. A container
        # created beside a failed gateway is removed by its session label.
        try:
            served, info = await asyncio.gather(serve(), create(), return_exceptions=True)
        except BaseException:  # cancelled (a DELETE while starting): the gateway may be up
            await gateway.close()
            raise
        if isinstance(served, BaseException):
            raise served
        try:
            if isinstance(info, BaseException):
                raise info
            clock.mark("gateway and container created")
            # Attached before it starts, the screen sees the terminal's very first byte:
            # nothing is missed, so no redraw is needed.
            running = await self._watch(record.id, info.id, paths, gateway, on_state)
            clock.mark("attached")
            try:
                with self._traces.span(record.id, "container.start"):
                    await self._backend.start(info.id)
                    clock.mark("container started")
                    await self._backend.resize(info.id, self._cols, self._rows)
                clock.mark("resized")
            except BaseException:
                await running.live.close()
                raise
        except BaseException:
            await gateway.close()
            raise
        return running, info.id

    async def start_pooled(
        self,
        template: SessionRecord,
        paths: SessionPaths,
        profile: ContainerProfile,
        image: ImageInfo,
        on_state: StateCallback,
    ) -> PooledSandbox:
        """A sandbox for the warm pool: Claude Code started on an empty workspace, no gateway.

        ``template`` stands for the session that will claim it (its id, policy, image);
        nothing in the sandbox can reach the model or the hook endpoint until a session
        claims it and its gateway starts (:meth:`claim`), so it can do nothing meanwhile.
        """
        workspace = await self._setup.lay_out_empty(paths, profile)
        try:
            spec = self._spec(template, paths, workspace, paths.token(), profile, image)
            spec = replace(spec, labels={**spec.labels, POOL_LABEL: "1"})
            info = await self._backend.create(spec)
            live = LiveSession(
                container_id=info.id,
                backend=self._backend,
                cols=self._cols,
                rows=self._rows,
                recording=paths.new_recording(),
                stall_seconds=self._stall_seconds,
                on_state=on_state,
                settle=self._settle,
            )
            await live.start()
            try:
                await self._backend.start(info.id)
                await self._backend.resize(info.id, self._cols, self._rows)
            except BaseException:
                await live.close()
                raise
        except BaseException:
            await self._setup.remove(paths)
            raise
        return PooledSandbox(template.id, info.id, profile, image, live, time.monotonic())

    async def claim(
        self,
        record: SessionRecord,
        pooled: PooledSandbox,
        paths: SessionPaths,
        *,
        on_state: StateCallback,
        clock: StartupClock,
    ) -> Running:
        """Give a pooled sandbox to ``record``: its workspace copied in, its gateway up.

        On failure (or a DELETE meanwhile) its screen is closed; the container goes with
        the session's, by its label.
        """
        try:
            prepared = await self._setup.fill(record, paths, pooled.profile)
            clock.mark("workspace")
            gateway = self._gateways(
                record=record,
                socket_path=paths.socket,
                token=paths.token(),
                workspace=prepared.workspace,
            )
            await gateway.start()
            clock.mark("gateway")
        except BaseException:
            await pooled.live.close()
            raise
        pooled.live.hand_over(on_state)
        driver = Driver(
            self._backend,
            pooled.live,
            submit_seconds=self._delivery_seconds,
            may_act=self._may_act_on(record.id),
        )
        return Running(live=pooled.live, driver=driver, gateway=gateway)

    async def remove_pooled(self, pooled: PooledSandbox, paths: SessionPaths) -> None:
        """A pooled sandbox no session took (too old, or the controller stops): all gone."""
        try:
            await pooled.live.close()
            await self._backend.remove(pooled.container_id)
        finally:
            await self._setup.remove(paths)

    async def adopt(
        self,
        record: SessionRecord,
        container_id: str,
        paths: SessionPaths,
        *,
        on_state: StateCallback,
    ) -> Running:
        """Re-attach to a container that survived a controller restart."""
        await self._setup.reattach(paths)
        gateway = self._gateways(
            record=record,
            socket_path=paths.socket,
            token=paths.token(),
            workspace=workspace_of(record, paths),
        )
        await gateway.start()
        try:
            running = await self._watch(record.id, container_id, paths, gateway, on_state)
        except BaseException:
            await gateway.close()
            raise
        await self._redraw(running)
        return running

    async def _redraw(self, running: Running) -> None:
        """Make tmux repaint the whole screen (attach only carries output from now on).

        A size change makes tmux redraw everything; once it has painted at the interim
        size, going back restores the size (and paints once more).
        """
        container_id = running.live.container_id
        before = running.live.updates
        await self._backend.resize(container_id, self._cols - 1, self._rows)
        await running.live.wait_for_update(before, _REDRAW_SECONDS)
        await self._backend.resize(container_id, self._cols, self._rows)

    def _may_act_on(self, session_id: str) -> Callable[[], bool] | None:
        # Taken when the driver is made, after the lease was claimed: the driver types
        # only in the tenure it was made for.
        return None if self._tenure is None else self._tenure(session_id)

    async def _watch(
        self,
        session_id: str,
        container_id: str,
        paths: SessionPaths,
        gateway: GatewayHandle,
        on_state: StateCallback,
    ) -> Running:
        """A live screen on the container's terminal (connected when this returns)."""
        live = LiveSession(
            container_id=container_id,
            backend=self._backend,
            cols=self._cols,
            rows=self._rows,
            recording=paths.new_recording(),
            stall_seconds=self._stall_seconds,
            on_state=on_state,
            settle=self._settle,
        )
        await live.start()
        driver = Driver(
            self._backend,
            live,
            submit_seconds=self._delivery_seconds,
            on_retry=self._on_input_retry,
            may_act=self._may_act_on(session_id),
        )
        return Running(live=live, driver=driver, gateway=gateway)

    def _spec(
        self,
        record: SessionRecord,
        paths: SessionPaths,
        workspace: Path,
        token: str,
        profile: ContainerProfile,
        image: ImageInfo,
    ) -> SandboxSpec:
        # The policy decides the container's limits and runtime, not the request.
        return SandboxSpec(
            session_id=record.id,
            image=image.id,
            workspace=workspace,
            workspace_mode=record.workspace_mode,
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
            disk_bytes=profile.disk_bytes,
            runtime=None if profile.runtime == "runc" else profile.runtime,
            labels=self._labels,
            egress=profile.egress and self._gateways.serves_egress,
        )

    def _pull_transcript(
        self, record: SessionRecord, paths: SessionPaths
    ) -> Callable[[], Awaitable[None]] | None:
        """Where the sandbox shares no files, what brings the host's transcript up to date."""
        sandbox = record.container_id
        if not self.mirror.is_needed or sandbox is None:
            return None

        async def pull() -> None:
            try:
                await self.mirror.transcript(record, paths, sandbox)
            except SandboxError as exc:  # gone already: collect what is here
                log.warning("session %s: transcript not pulled: %s", record.id, exc)

        return pull

    async def detach(self, running: Running) -> None:
        """Stop watching (controller shutdown); the container keeps running."""
        await running.live.close()
        await running.gateway.close()

    async def release(self, paths: SessionPaths) -> None:
        """Unmount the session's volume and bind mounts (after its container is gone)."""
        await self._setup.release(paths)

    def kept_details(self, record: SessionRecord) -> dict[str, Any]:
        """Details that outlive screen states (the workspace's size, skips, quota)."""
        return self._setup.details(record)

    async def remove_container(self, session_id: str, container_id: str | None) -> None:
        """Remove the session's container(s), found by id and by label: always gone."""
        ids = {info.id for info in await self._backend.list({SESSION_LABEL: session_id})}
        if container_id:
            ids.add(container_id)
        for cid in ids:
            await self._backend.remove(cid)

    async def collect(
        self,
        record: SessionRecord,
        paths: SessionPaths,
        store: SessionStore,
        judged: frozenset[str] = frozenset(),
    ) -> None:
        """Keep the workspace patch and archive, the transcript and the recording.

        ``judged``: ids of tool calls the hook decided; the transcript is awaited (briefly)
        until it holds their results.
        """
        await self.mirror.pull(record, paths)  # while the sandbox still exists
        out = paths.artifacts
        out.mkdir(parents=True, exist_ok=True)
        files: list[Path] = []
        transcript = transcript_path(paths.home, SANDBOX_WORKDIR, record.id)
        # Claude Code writes it a moment late; a session that used the model has one.
        expected = bool(record.usage.get("requests")) or bool(judged)
        await settle_transcript(
            transcript,
            expected=expected,
            results_for=judged,
            refresh=self._pull_transcript(record, paths),
        )
        # Each artifact on its own: a file vanishing from one must not lose the others.
        with contextlib.suppress(FileNotFoundError):
            if record.workspace_mode == WorkspaceMode.COPY and paths.workspace_copy.is_dir():
                patch = await asyncio.to_thread(self._setup.patch, record, paths)
                (out / "changes.patch").write_text(patch, encoding="utf-8")
                files.append(out / "changes.patch")
                files.append(
                    await asyncio.to_thread(
                        workspace_archive, paths.workspace_copy, out / "workspace.tar.gz"
                    )
                )
        with contextlib.suppress(FileNotFoundError):
            if transcript.is_file():
                files.append(Path(shutil.copy2(transcript, out / "transcript.jsonl")))
        with contextlib.suppress(FileNotFoundError):
            for segment in paths.recordings():
                files.append(Path(shutil.copy2(segment, out / segment.name)))
        self.mirror.forget(record.id)
        for path in files:
            store.add_artifact(
                ArtifactRecord(record.id, path.name, str(path), path.stat().st_size, utcnow())
            )


@dataclass
class PooledSandbox:
    """A started sandbox waiting in the warm pool for the session whose id it carries."""

    session_id: str
    container_id: str
    profile: ContainerProfile
    image: ImageInfo
    live: LiveSession
    started: float  # monotonic

    @property
    def is_ready(self) -> bool:
        """Claude Code shows its idle input box."""
        return self.live.observed.state == SessionState.IDLE


def workspace_of(record: SessionRecord, paths: SessionPaths) -> Path:
    """The host directory the agent works in (for judging its paths, and for its gateway)."""
    if record.workspace_mode == WorkspaceMode.COPY:
        return paths.workspace_copy
    bound = paths.root / HOST_BIND  # the checked directory, bound by descriptor
    if os.path.ismount(bound):
        return bound
    if isinstance(from_json(record.workspace, record.work_dir), PathSource):
        return Path(record.work_dir)
    return paths.source
