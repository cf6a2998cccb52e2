"""Session lifecycle (DESIGN.md "A session, end to end"): create, drive, delete, re-adopt."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from runner.errors import (
    ConflictError,
    NotFoundError,
    PolicyDeniedError,
    WardenError,
)
from runner.sandbox.backend import SandboxBackend
from runner.sessions import prompts
from runner.sessions.approvals import ApprovalDesk
from runner.sessions.hooklog import HookLog
from runner.sessions.launcher import Launcher
from runner.sessions.live import Observed, StateCallback
from runner.sessions.model import (
    FINAL_STATES,
    STATES,
    SessionRecord,
    SessionStore,
    StateChange,
    utcnow,
)
from runner.sessions.policy_gate import PolicyGate
from runner.sessions.ports import Actor, EventSink
from runner.sessions.requests import SessionRequest, check_request, summary
from runner.sessions.runtime import Running, SessionPaths
from runner.sessions.views import SessionViews

log = logging.getLogger(__name__)


class SessionManager:
    """Creates sessions, keeps their live state, and carries out actions on them."""

    def __init__(
        self,
        *,
        store: SessionStore,
        backend: SandboxBackend,
        launcher: Launcher,
        events: EventSink,
        gate: PolicyGate,
        hooks: HookLog,
        sessions_dir: Path,
        default_image: str,
    ) -> None:
        self._store = store
        self._backend = backend
        self._launcher = launcher
        self._events = events
        self._gate = gate
        self._hooks = hooks
        self._desk = ApprovalDesk(gate, events)
        self._sessions_dir = sessions_dir
        self._default_image = default_image
        self._running: dict[str, Running] = {}
        self._starting: dict[str, asyncio.Task[None]] = {}
        self._create_lock = asyncio.Lock()
        self.views = SessionViews(self, store)
        self._briefing: set[str] = set()

    # -- queries -----------------------------------------------------------------

    def paths(self, session_id: str) -> SessionPaths:
        return SessionPaths(self._sessions_dir / session_id)

    async def get(self, session_id: str, actor: Actor) -> SessionRecord:
        """The session, if it exists in the actor's tenant (404 otherwise, never 403)."""
        record = await asyncio.to_thread(self._store.get, session_id)
        if record is None or not _visible(record, actor):
            raise NotFoundError(f"no session {session_id}")
        return self._current(record)

    def _current(self, record: SessionRecord) -> SessionRecord:
        """The record with the live screen's state: the store lags it by a write."""
        running = self._running.get(record.id)
        if running is None or record.id in self._briefing:
            return record
        observed = running.live.observed
        return replace(record, state=observed.state, details=dict(observed.details))

    async def list_sessions(
        self, actor: Actor, states: list[str] | None = None
    ) -> list[SessionRecord]:
        tenant = None if actor.sees_all_tenants else actor.tenant
        records = await asyncio.to_thread(self._store.find, tenant=tenant)
        current = [self._current(r) for r in records]
        return [r for r in current if states is None or r.state in states]

    def live(self, session_id: str) -> Running | None:
        """The session's live parts, if this controller is watching it."""
        return self._running.get(session_id)

    def running(self, session_id: str) -> Running:
        running = self._running.get(session_id)
        if running is None:
            raise ConflictError(f"session {session_id} is not running")
        return running

    # -- lifecycle -----------------------------------------------------------------

    async def create(self, request: SessionRequest, actor: Actor) -> tuple[SessionRecord, bool]:
        """Start a session (returns at once, state ``starting``) or reuse an idle one.

        Returns:
            The record and whether an existing idle session was reused.
        """
        work_dir = check_request(request)
        async with self._create_lock:
            # An unattended (CI) run gets a session of its own: reusing an interactive one
            # would hand its prompts to whoever watches that one, under another policy.
            reusable = None if request.unattended else await self._find_reusable(work_dir, actor)
            if reusable is not None:
                if request.prompt:
                    await self.send(reusable.id, request.prompt, actor)
                return reusable, True
            image = request.image or self._default_image
            now = utcnow()
            record = SessionRecord(
                id=str(uuid.uuid4()),
                tenant=actor.tenant,
                owner=actor.subject,
                state="starting",
                details={},
                work_dir=str(work_dir),
                workspace_mode=request.workspace_mode,
                policy=request.policy,
                image=image,
                model=request.model,
                permission_mode=request.permission_mode,
                unattended=request.unattended,
                prompt=request.prompt,
                env=dict(request.env),
                container_id=None,
                created_at=now,
                updated_at=now,
            )
            try:
                self._launcher.check_policy(record)
            except PolicyDeniedError as exc:
                await self._events.emit(
                    "session.denied",
                    actor=actor,
                    session=None,
                    data={**summary(record), "rule": exc.rule, "reason": exc.message},
                )
                raise
            # Recorded before anything runs: if the ledger cannot write, nothing starts.
            await self._events.emit(
                "session.created", actor=actor, session=record.id, data=summary(record)
            )
            await asyncio.to_thread(self._store.add, record)
        # Clients see ``starting`` until the first prompt is in: an ``idle`` before it
        # would invite them to send while the briefing is being typed.
        self._briefing.add(record.id)
        self._starting[record.id] = asyncio.create_task(self._launch(record))
        return record, False

    async def _find_reusable(self, work_dir: Path, actor: Actor) -> SessionRecord | None:
        idle = await asyncio.to_thread(self._store.find, tenant=actor.tenant, states=["idle"])
        for record in idle:
            if (
                record.work_dir == str(work_dir)
                and record.id in self._running
                and not record.unattended
            ):
                return record
        return None

    async def _launch(self, record: SessionRecord) -> None:
        try:
            running, container_id = await self._launcher.launch(
                record, self.paths(record.id), on_state=self._state_callback(record)
            )
            self._running[record.id] = running
            await asyncio.to_thread(self._store.update, record.id, container_id=container_id)
            await self._events.emit(
                "container.started",
                actor=Actor.system(),
                session=record.id,
                data={"container": container_id, "image": record.image},
            )
            if record.prompt:
                await self._brief(record.id, record.prompt)
            self._briefing.discard(record.id)
            await self._state_callback(record)(running.live.observed)
        except Exception as exc:
            log.exception("session %s failed to start", record.id)
            await self._fail(record.id, exc)
        finally:
            self._briefing.discard(record.id)
            self._starting.pop(record.id, None)

    async def _brief(self, session_id: str, prompt: str) -> None:
        running = self._running[session_id]
        ready = await running.live.wait_for(
            lambda o, _p: o.state not in ("starting", "unknown"), 120
        )
        if not ready or running.live.observed.state != "idle":
            raise ConflictError(
                "Claude Code did not become ready for the first prompt",
                details={"state": running.live.observed.state, "pane": running.live.pane()[-2000:]},
            )
        await self._deliver(session_id, prompt, Actor.system())

    async def _fail(self, session_id: str, exc: Exception) -> None:
        message = exc.message if isinstance(exc, WardenError) else f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            await asyncio.to_thread(
                self._store.update, session_id, state="error", error=message, ended_at=utcnow()
            )
            await self._events.emit(
                "session.error", actor=Actor.system(), session=session_id, data={"error": message}
            )

    def _state_callback(self, record: SessionRecord) -> StateCallback:
        session_id = record.id

        async def on_state(observed: Observed) -> None:
            if session_id in self._briefing and observed.state != "exited":
                return
            now = utcnow()
            changes: dict[str, Any] = {"state": observed.state, "details": dict(observed.details)}
            if observed.state == "exited":
                changes["ended_at"] = now
            await asyncio.to_thread(self._store.update, session_id, **changes)
            await asyncio.to_thread(
                self._store.record_state,
                StateChange(session_id, observed.state, observed.details, now),
            )
            await self._events.emit(
                "session.state",
                actor=Actor.system(),
                session=session_id,
                data={"state": observed.state, "details": dict(observed.details)},
            )
            running = self._running.get(session_id)
            if running is not None:
                self._desk.watch(record, running, observed, self._workspace(record))
            if observed.state == "permission_prompt":
                await self._events.emit(
                    "permission.asked",
                    actor=Actor.system(),
                    session=session_id,
                    data={"prompt": dict(observed.details), "policy": record.policy},
                )
                disagreement = self._hooks.disagreement(session_id, observed.details)
                if disagreement is not None:
                    await self._events.emit(
                        "screen.disagreement",
                        actor=Actor.system(),
                        session=session_id,
                        data=disagreement,
                    )

        return on_state

    async def delete(self, session_id: str, actor: Actor) -> SessionRecord:
        """Collect artifacts, remove the container (always), and mark the session ended."""
        record = await self.get(session_id, actor)
        await self._events.emit("session.deleted", actor=actor, session=session_id, data={})
        task = self._starting.pop(session_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        running = self._running.pop(session_id, None)
        self._desk.forget(session_id)
        self._hooks.forget(session_id)
        try:
            await self._launcher.collect(record, self.paths(session_id), self._store)
        finally:
            if running is not None:
                await self._launcher.detach(running)
            await self._launcher.remove_container(session_id, record.container_id)
        state = record.state if record.state in FINAL_STATES else "exited"
        updated = await asyncio.to_thread(
            self._store.update,
            session_id,
            state=state,
            details={**record.details, "deleted": True},
            ended_at=record.ended_at or utcnow(),
        )
        await self._events.emit(
            "container.removed",
            actor=actor,
            session=session_id,
            data={"container": record.container_id},
        )
        return updated

    # -- actions -----------------------------------------------------------------

    async def send(self, session_id: str, text: str, actor: Actor) -> None:
        """Deliver a prompt; the session must be idle."""
        await self.get(session_id, actor)
        await self._deliver(session_id, text, actor)

    async def _deliver(self, session_id: str, text: str, actor: Actor) -> None:
        running = self.running(session_id)
        async with running.lock:
            _require(running, {"idle"}, "send input")
            await self._events.emit(
                "input.sent", actor=actor, session=session_id, data={"text": text}
            )
            await running.driver.submit(text)

    async def approve(self, session_id: str, actor: Actor) -> int:
        record = await self.get(session_id, actor)
        running = self.running(session_id)
        return await self._desk.approve(record, running, actor, self._workspace(record))

    async def reject(self, session_id: str, actor: Actor) -> int | None:
        record = await self.get(session_id, actor)
        return await self._desk.reject(record, self.running(session_id), actor)

    def _workspace(self, record: SessionRecord) -> Path:
        """The host directory the agent works in (for judging its paths)."""
        if record.workspace_mode == "copy":
            return self.paths(record.id).workspace_copy
        return Path(record.work_dir)

    async def answer(
        self, session_id: str, actor: Actor, *, option: int | None, text: str | None
    ) -> None:
        await self.get(session_id, actor)
        running = self.running(session_id)
        await prompts.answer(running, self._events, session_id, actor, option=option, text=text)

    async def escape(self, session_id: str, actor: Actor, *, interrupt: bool) -> None:
        await self.get(session_id, actor)
        running = self.running(session_id)
        await prompts.escape(running, self._events, session_id, actor, interrupt=interrupt)

    async def close(self) -> None:
        """Stop watching sessions; their containers keep running for re-adoption."""
        for task in list(self._starting.values()):
            task.cancel()
        for running in list(self._running.values()):
            await self._launcher.detach(running)
        self._running.clear()

    async def readopt(self) -> list[str]:
        """Re-attach to running session containers found by label; end the vanished ones."""
        adopted: list[str] = []
        containers = {info.session_id: info for info in await self._backend.list({})}
        live_states = [s for s in STATES if s not in FINAL_STATES]
        active = await asyncio.to_thread(self._store.find, states=live_states)
        for record in active:
            info = containers.get(record.id)
            if info is None or info.status != "running":
                await self._fail(record.id, ConflictError("the container was gone after a restart"))
                continue
            try:
                running = await self._launcher.adopt(
                    record, info.id, self.paths(record.id), on_state=self._state_callback(record)
                )
            except Exception as exc:
                log.exception("could not re-adopt session %s", record.id)
                await self._fail(record.id, exc)
                continue
            self._running[record.id] = running
            adopted.append(record.id)
        return adopted


def _visible(record: SessionRecord, actor: Actor) -> bool:
    return actor.sees_all_tenants or record.tenant == actor.tenant


def _require(running: Running, states: set[str], action: str) -> None:
    state = running.live.observed.state
    if state not in states:
        hint = {
            "permission_prompt": "it is waiting for a permission decision: approve or reject first",
            "asking": "it is asking a question: answer it first",
            "working": "it is working: wait for idle, or interrupt it",
            "starting": "it is still starting",
        }.get(state, f"it is {state}")
        raise ConflictError(
            f"cannot {action}: {hint}", details={"state": state, "allowed": sorted(states)}
        )
