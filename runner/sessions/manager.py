"""Session lifecycle (DESIGN.md "A session, end to end"): create, drive, delete, re-adopt."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from runner.core import (
    FINAL_STATES,
    Actor,
    EventSink,
    PermissionMode,
    SessionState,
    WorkspaceMode,
    utcnow,
)
from runner.errors import (
    ConflictError,
    InvalidInputError,
    PolicyDeniedError,
    RateLimitedError,
    WardenError,
)
from runner.policy import ContainerProfile, Decision
from runner.sandbox.backend import POOL_LABEL, ImageInfo, SandboxBackend, SandboxInfo
from runner.sandbox.runtimes import require_runtime
from runner.sessions import prompts
from runner.sessions.approvals import ApprovalDesk
from runner.sessions.asked import AskedPrompts
from runner.sessions.hooklog import HookLog
from runner.sessions.images import admit_image
from runner.sessions.input_text import check_text, parse_input
from runner.sessions.launcher import Launcher, PooledSandbox, workspace_of
from runner.sessions.live import LiveSession, Observed, StateCallback
from runner.sessions.mode_pin import ModePin
from runner.sessions.model import SessionRecord, StateChange
from runner.sessions.ownership import NotOwnerError
from runner.sessions.policy_gate import PolicyGate
from runner.sessions.pool import PoolKey, WarmPool, ignore_state
from runner.sessions.queue import StartQueue, Waiting
from runner.sessions.quotas import Quotas
from runner.sessions.registry import SessionRegistry
from runner.sessions.requests import SessionRequest, check_request, summary
from runner.sessions.runtime import Running, SessionPaths
from runner.sessions.startup import StartupClock
from runner.sessions.tenures import Tenures
from runner.sessions.turns import TurnRecorder
from runner.sessions.workspace_gate import AdmittedWorkspace, WorkspaceGate
from runner.telemetry.traces import SessionTraces
from runner.workspace.source import PathSource

log = logging.getLogger(__name__)

#: How long Claude Code may take to show its input box for the first prompt.
_READY_SECONDS = 120.0


class SessionManager:
    """Creates sessions, keeps their live state, and carries out actions on them."""

    def __init__(
        self,
        *,
        registry: SessionRegistry,
        backend: SandboxBackend,
        launcher: Launcher,
        events: EventSink,
        gate: PolicyGate,
        hooks: HookLog,
        default_image: str,
        workspaces: WorkspaceGate,
        turns: TurnRecorder | None = None,
        traces: SessionTraces | None = None,
        pool: WarmPool | None = None,
        tenures: Tenures | None = None,
        replicated: bool = False,
        reuse_default: bool = False,
        quotas: Quotas | None = None,
        restore_asks: Callable[[str], Awaitable[object]] | None = None,
        max_queued: int = 0,
    ) -> None:
        self._registry = registry
        #: Reads back a session's undecided hook asks (a takeover: its prompt stays approvable).
        self._restore_asks = restore_asks
        self._traces = traces or SessionTraces()
        self._quotas = quotas
        self._workspaces = workspaces
        self._store = registry.store
        self._backend = backend
        self._launcher = launcher
        self._events = events
        self._gate = gate
        self._hooks = hooks
        self._desk = ApprovalDesk(gate, events, hooks)
        self._modes = ModePin(events)
        self._asked = AskedPrompts()
        self._default_image = default_image
        self._turns = turns
        self._pool = pool
        #: This replica's leases; None: the only controller (every session is its own).
        self._tenures = tenures
        #: Other controllers may share the database (PostgreSQL) and the engine.
        self._replicated = replicated
        #: Whether a request that does not say gets an idle matching session (Aegis's way).
        self._reuse_default = reuse_default
        self._starting: dict[str, asyncio.Task[None]] = {}
        self._create_lock = asyncio.Lock()
        #: Starts waiting for a place under the quotas (opt-in; runner.sessions.queue).
        self._queue = StartQueue(
            max_queued,
            admit=self._admit_waiting,
            begin=self._begin_waiting,
            renumber=self._renumber,
            lock=self._create_lock,
        )
        #: Each session's startup breakdown (``details.startup``), once it is ready.
        self._startups: dict[str, dict[str, object]] = {}

    # -- queries -----------------------------------------------------------------

    async def get(self, session_id: str, actor: Actor) -> SessionRecord:
        """The session, if it exists in the actor's tenant (404 otherwise, never 403)."""
        return await self._registry.get(session_id, actor)

    async def list_sessions(
        self, actor: Actor, states: list[SessionState] | None = None
    ) -> list[SessionRecord]:
        return await self._registry.find(actor, states)

    def paths(self, session_id: str) -> SessionPaths:
        """Where the session's host directory is (it outlives the session)."""
        return self._registry.paths(session_id)

    def runs_here(self, session_id: str) -> bool:
        """Whether this controller watches (and, with replicas, owns) the session now."""
        return self._registry.is_running(session_id)

    def live_state(self, session_id: str) -> SessionState:
        """The state the running session's screen shows now (409 if it is not running)."""
        return self._registry.running(session_id).live.observed.state

    # -- lifecycle -----------------------------------------------------------------

    async def create(self, request: SessionRequest, actor: Actor) -> tuple[SessionRecord, bool]:
        """Start a session (returns at once, state ``starting``) or reuse an idle one.

        Returns:
            The record and whether an existing idle session was reused.
        """
        clock = StartupClock()
        check_request(request)
        # A request that names no mode gets the policy's, before anything is judged by it.
        mode = self._gate.workspace_mode(request.policy, request.workspace_mode)
        request = replace(request, workspace_mode=mode)
        self._gate.check_env(request.policy, request.env)
        if request.prompt:  # refused now, not after a container was started for it
            check_text(request.prompt, field="prompt")
            self._gate.check_input(request.policy, parse_input(request.prompt), None)
        # Confined before anything else: a path outside the roots is refused (and audited)
        # before it is looked at again, let alone copied.
        admitted = await self._workspaces.admit(request, actor)
        async with self._create_lock:
            record = _new_record(request, actor, admitted, self._default_image, mode)
            self._traces.begin(record.id, _trace_attributes(record))
            try:
                # Judged like a new session even when one is reused: a reused session
                # must be one this request could have started.
                with self._traces.span(record.id, "policy.admission"):
                    profile, image = await self._admit(record, actor)
                # Reuse only when asked for, and only a session that is what this request
                # asks for in every respect (policy, workspace, image, model, modes, env)
                # and is the same person's: anything else would hand the caller a session
                # under another policy, or someone else's. An unattended (CI) run never
                # shares one; only a host path can be shared (an upload or a clone is
                # each session's own).
                asked = self._reuse_default if request.reuse is None else request.reuse
                reuse = asked and admitted.is_host_path and not request.unattended
                reusable = await self._find_reusable(record, actor) if reuse else None
                if reusable is not None:
                    self._traces.end(record.id, "reused")
                    if request.prompt:
                        await self.send(reusable.id, request.prompt, actor)
                    return reusable, True
                # Quotas count what starts: a reused session starts nothing.
                queueable = bool(request.queue) and profile.queue and not self._queue.is_full
                try:
                    await self._admit_quota(record, actor, None, queueable=queueable)
                    await self._admit_quota(
                        record, actor, profile.memory_bytes, queueable=queueable
                    )
                except RateLimitedError as refused:
                    if not queueable:
                        raise
                    prepared = (admitted, profile, image, clock)
                    return await self._enqueue(record, actor, prepared, refused), False
                record = await self._begin(record, actor, admitted, profile, image, clock)
            except BaseException as exc:
                self._traces.end(record.id, "refused", _message(exc))
                raise
        return record, False

    async def _begin(
        self,
        record: SessionRecord,
        actor: Actor,
        admitted: AdmittedWorkspace,
        profile: ContainerProfile,
        image: ImageInfo,
        clock: StartupClock,
        *,
        queued: bool = False,
    ) -> SessionRecord:
        """Start an admitted session that fits the quotas (under the create lock): take its
        workspace, record it, and launch it in the background (state ``starting``)."""
        # A queued session's id is known to its client already: it cannot take the id a
        # pooled sandbox was made for, so it starts cold.
        pooled = None if queued else self._claim_pooled(record, profile, image)
        try:
            if pooled is not None:  # the session takes the id its sandbox was made for
                self._traces.rename(record.id, pooled.session_id)
                record = replace(record, id=pooled.session_id)
            await self._take_workspace(record, admitted, profile, actor)
            # Recorded before anything runs: if the ledger cannot write, nothing starts.
            await self._events.emit(
                "session.created", actor=actor, session=record.id, data=summary(record)
            )
            if queued:
                record = await asyncio.to_thread(
                    self._store.update, record.id, state=SessionState.STARTING, details={}
                )
            else:
                await asyncio.to_thread(self._store.add, record)
                if self._tenures is not None and await self._tenures.claim(record.id) is None:
                    raise ConflictError(f"session {record.id} was claimed by another replica")
            if self._quotas is not None:
                self._quotas.started(actor)
        except BaseException:
            if pooled is not None:  # claimed, so never back to the pool: removed
                await self._launcher.remove_pooled(pooled, self._registry.paths(record.id))
            raise
        clock.mark("admitted")
        # Clients see ``starting`` until the first prompt is in: an ``idle`` before it
        # would invite them to send while the briefing is being typed.
        self._registry.briefing.add(record.id)
        self._starting[record.id] = asyncio.create_task(
            self._launch(record, profile, image, clock, pooled)
        )
        return record

    # -- the start queue (runner.sessions.queue) --------------------------------------

    async def _enqueue(
        self, record: SessionRecord, actor: Actor, prepared: Any, refused: RateLimitedError
    ) -> SessionRecord:
        """Create the session in state ``queued`` (its position and the limit it waits on)."""
        position = self._queue.add(Waiting(record, actor, prepared))
        waiting = {"position": position, "limit": refused.limit}
        record = replace(record, state=SessionState.QUEUED, details={"queue": waiting})
        try:
            await self._events.emit(
                "session.queued",
                actor=actor,
                session=record.id,
                data={**summary(record), **waiting, "reason": refused.message},
            )
            await asyncio.to_thread(self._store.add, record)
            if self._tenures is not None and await self._tenures.claim(record.id) is None:
                raise ConflictError(f"session {record.id} was claimed by another replica")
        except BaseException:
            self._queue.remove(record.id)
            raise
        return record

    async def _admit_waiting(self, waiting: Waiting) -> None:
        if self._quotas is None:
            return
        _admitted, profile, _image, _clock = waiting.prepared
        await asyncio.to_thread(self._quotas.admit, waiting.actor)
        self._quotas.admit_memory(profile.memory_bytes)

    async def _begin_waiting(self, waiting: Waiting) -> None:
        admitted, profile, image, clock = waiting.prepared
        try:
            await self._begin(
                waiting.record, waiting.actor, admitted, profile, image, clock, queued=True
            )
        except Exception as exc:
            await self._fail(waiting.record.id, exc)
            raise

    async def _renumber(self, line: list[Waiting]) -> None:
        for position, waiting in enumerate(line, start=1):
            details = {"queue": {**waiting.record.details.get("queue", {}), "position": position}}
            if details != dict(waiting.record.details):
                waiting.record = await asyncio.to_thread(
                    self._store.update, waiting.record.id, details=details
                )

    async def _take_workspace(
        self,
        record: SessionRecord,
        admitted: AdmittedWorkspace,
        profile: ContainerProfile,
        actor: Actor,
    ) -> None:
        """Disk and workspace admission of a new session, a span of its start."""
        with self._traces.span(record.id, "workspace.take"):
            await self._workspaces.admit_disk(record, profile, actor)
            await self._workspaces.take(admitted, actor, self._registry.paths(record.id))

    def _claim_pooled(
        self, record: SessionRecord, profile: ContainerProfile, image: ImageInfo
    ) -> PooledSandbox | None:
        """A ready sandbox from the warm pool, if the policy allows one and it fits.

        It fits a request it was made for: the container the policy admitted now (the
        same limits and runtime: a policy changed since must not be served by an old
        one), a copied workspace (a bind needs the host path at creation), and none of
        what is fixed when a container starts (extra environment, a permission mode or
        model other than the default).
        """
        if self._pool is None or not profile.pool:
            return None
        if (
            record.workspace_mode != WorkspaceMode.COPY
            or record.env
            or record.model is not None
            or record.permission_mode != PermissionMode.DEFAULT
        ):
            return None
        pooled = self._pool.claim(PoolKey(record.policy, image.id))
        if pooled is not None and pooled.profile != profile:
            # Judged under an older version of the policy: not used, not returned.
            self._pool.drop(pooled)
            return None
        return pooled

    def start_pool(self) -> None:
        """Fill the warm pool's keys and keep them full (after :meth:`keep_warm`)."""
        if self._pool is not None:
            self._pool.start()

    async def keep_warm(self, key: str) -> None:
        """Have the pool keep sandboxes for ``key`` (``policy`` or ``policy@image``).

        A policy that does not allow pooling (``container.pool``) gets none, logged.

        Raises:
            WardenError: the policy or image cannot be admitted.
        """
        if self._pool is None:
            return
        policy, _, image_ref = key.partition("@")
        request = SessionRequest(work_dir="", policy=policy, image=image_ref or None)
        template = _new_record(
            request, Actor.system(), _POOL_WORKSPACE, self._default_image, WorkspaceMode.COPY
        )
        profile, image = await admit_image(self._gate, self._backend, template)
        await require_runtime(self._backend, profile.runtime, policy=policy)
        if not profile.pool:
            log.warning("warm pool: policy %s does not allow pooled sandboxes", policy)
            return

        async def start(session_id: str) -> PooledSandbox:
            paths = self._registry.paths(session_id)
            mine = replace(template, id=session_id)
            return await self._launcher.start_pooled(mine, paths, profile, image, ignore_state)

        self._pool.keep(PoolKey(policy, image.id), start)

    async def _admit(
        self, record: SessionRecord, actor: Actor
    ) -> tuple[ContainerProfile, ImageInfo]:
        """The policy's container profile for the session, and the image it judged (the
        container is created from that image's id), decided once, here.

        Raises:
            PolicyDeniedError: the policy refuses the session (403, with the rule).
            RuntimeUnavailableError: the engine lacks the policy's runtime (424).
        """
        try:
            profile, image = await admit_image(self._gate, self._backend, record)
        except PolicyDeniedError as exc:
            await self._events.emit(
                "session.denied",
                actor=actor,
                session=None,
                data={**summary(record), "rule": exc.rule, "reason": exc.message},
            )
            raise
        # Fail closed, and now rather than in the background: a session never runs
        # under another runtime than its policy's (e.g. runc instead of gVisor).
        await require_runtime(self._backend, profile.runtime, policy=record.policy)
        return profile, image

    async def _admit_quota(
        self,
        record: SessionRecord,
        actor: Actor,
        memory_bytes: int | None,
        *,
        queueable: bool = False,
    ) -> None:
        """Refuse (429, audited) a start over a session quota, or, once the policy's
        memory limit is known, one the host has no memory for. ``queueable``: the caller
        queues it instead, and audits that."""
        if self._quotas is None:
            return
        try:
            if memory_bytes is None:
                await asyncio.to_thread(self._quotas.admit, actor)
            else:
                self._quotas.admit_memory(memory_bytes)
        except RateLimitedError as exc:
            if queueable:
                raise
            await self._events.emit(
                "session.refused",
                actor=actor,
                session=None,
                data={**summary(record), "limit": exc.limit, "reason": exc.message},
            )
            raise

    async def _find_reusable(self, wanted: SessionRecord, actor: Actor) -> SessionRecord | None:
        # Idle as clients see it (the live screen's state): the store lags it by a write.
        unfinished = [state for state in SessionState if state not in FINAL_STATES]
        records = await asyncio.to_thread(self._store.find, tenant=actor.tenant, states=unfinished)
        for stored in records:
            if not self._registry.is_running(stored.id):
                continue
            record = self._registry.current(stored)
            if (
                record.state == SessionState.IDLE
                and _same_session(record, wanted)
                and not record.unattended
            ):
                return record
        return None

    async def _launch(
        self,
        record: SessionRecord,
        profile: ContainerProfile,
        image: ImageInfo,
        clock: StartupClock,
        pooled: PooledSandbox | None = None,
    ) -> None:
        try:
            clock.mark("queued")
            if pooled is not None:
                running = await self._launcher.claim(
                    record,
                    pooled,
                    self._registry.paths(record.id),
                    on_state=self._state_callback(record),
                    clock=clock,
                )
                container_id = pooled.container_id
            else:
                running, container_id = await self._launcher.launch(
                    record,
                    self._registry.paths(record.id),
                    profile,
                    image,
                    on_state=self._state_callback(record),
                    clock=clock,
                )
            self._registry.add(record.id, running)
            await asyncio.to_thread(self._store.update, record.id, container_id=container_id)
            await self._events.emit(
                "container.started",
                actor=Actor.system(),
                session=record.id,
                data={
                    "container": container_id,
                    "image": record.image,
                    **image.audit_fields(),
                    "pooled": pooled is not None,
                },
            )
            clock.mark("container recorded")
            await self._ready(running, record.id, clock)
            if record.prompt:
                await self._brief(running, record, record.prompt)
                clock.mark("briefed")
            self._startups[record.id] = clock.summary()
            self._registry.briefing.discard(record.id)
            self._traces.started(record.id)
            await self._state_callback(record)(running.live.observed)
            clock.mark("reported")
            log.info("session %s ready in %s", record.id, clock.describe())
        except Exception as exc:
            self._traces.started(record.id, _message(exc))
            if isinstance(exc, WardenError):
                # An expected failure (the runtime refused, Claude Code never got ready):
                # one line, no traceback; the record and the ledger say why.
                log.error("session %s failed to start: %s", record.id, exc.message)
            else:
                log.exception("session %s failed to start", record.id)
            await self._fail(record.id, exc)
            await self._stop_failed(record.id)
        finally:
            self._registry.briefing.discard(record.id)
            self._starting.pop(record.id, None)

    async def _ready(self, running: Running, session_id: str, clock: StartupClock) -> None:
        """Wait until Claude Code shows its input box (or something else it must not)."""
        with self._traces.span(session_id, "claude.ready"):
            await running.live.wait_for(
                lambda o, _p: o.state not in (SessionState.STARTING, SessionState.UNKNOWN),
                _READY_SECONDS,
            )
        if running.live.first_output_at is not None:
            clock.note("first output", running.live.first_output_at)
        clock.mark("claude ready")

    async def _brief(self, running: Running, record: SessionRecord, prompt: str) -> None:
        if running.live.observed.state != SessionState.IDLE:
            raise ConflictError(
                "Claude Code did not become ready for the first prompt",
                details={"state": running.live.observed.state, "pane": running.live.pane()[-2000:]},
            )
        await self._deliver(record, prompt, Actor.system())

    async def _fail(self, session_id: str, exc: Exception) -> None:
        """Mark the session failed. Each step is tried on its own and logged if it fails:
        a store that cannot be written must not also cost the ledger its event."""
        message = exc.message if isinstance(exc, WardenError) else f"{type(exc).__name__}: {exc}"
        try:
            await self._events.emit(
                "session.error", actor=Actor.system(), session=session_id, data={"error": message}
            )
        except Exception:
            log.exception("session %s: the ledger did not record its error", session_id)
        await self._ended(session_id, "error", SessionState.ERROR, message)
        try:
            await asyncio.to_thread(
                self._store.update,
                session_id,
                state=SessionState.ERROR,
                error=message,
                ended_at=utcnow(),
            )
        except Exception:
            log.exception("session %s: could not store its error state", session_id)

    async def _ended(
        self, session_id: str, reason: str, state: SessionState, error: str | None = None
    ) -> None:
        """Record that a session is over (once: when its ``ended_at`` is first set)."""
        self._traces.end(session_id, str(state), error)
        self._queue.wake()  # its place may be a waiting start's now
        try:
            await self._events.emit(
                "session.ended",
                actor=Actor.system(),
                session=session_id,
                data={"reason": reason, "state": state, "error": error},
            )
        except Exception:
            log.exception("session %s: the ledger did not record its end", session_id)

    async def _stop_failed(self, session_id: str) -> None:
        """A session that failed to start runs no further: stop watching it and remove its
        container (its directory stays, so a DELETE still collects what it left)."""
        running = self._registry.pop(session_id)
        try:
            if running is not None:
                await self._launcher.detach(running)
            await self._launcher.remove_container(session_id, None)
        except Exception:
            log.exception(
                "session %s: could not remove the container of a failed start", session_id
            )

    def _state_callback(self, record: SessionRecord) -> StateCallback:
        session_id = record.id
        # One state change is recorded at a time, in the order they happened: an idle that
        # settles in its own task must not be overtaken by the next change's event.
        ordered = asyncio.Lock()

        async def on_state(observed: Observed) -> None:
            async with ordered:
                await record_state(observed)

        async def record_state(observed: Observed) -> None:
            if session_id in self._registry.briefing and observed.state != SessionState.EXITED:
                return
            now = utcnow()
            details = {**self._launcher.kept_details(record), **observed.details}
            if session_id in self._startups:
                details["startup"] = self._startups[session_id]
            changes: dict[str, Any] = {"state": observed.state, "details": details}
            if observed.state == SessionState.EXITED:
                changes["ended_at"] = now
            await asyncio.to_thread(self._store.update, session_id, **changes)
            await asyncio.to_thread(
                self._store.record_state,
                StateChange(session_id, observed.state, observed.details, now),
            )
            await self._record_turns(session_id)
            await self._events.emit(
                "session.state",
                actor=Actor.system(),
                session=session_id,
                data={"state": observed.state, "details": dict(observed.details)},
            )
            running = self._registry.live(session_id)
            if running is not None:
                workspace = workspace_of(record, self._registry.paths(session_id))
                self._desk.watch(record, running, observed, workspace)
                how = self._gate.policy(record.policy).input.mode_change
                self._modes.check(session_id, record.permission_mode, how, running, observed)
            if observed.state == SessionState.PERMISSION_PROMPT:
                await self._prompt_opened(record, observed)
            else:
                self._asked.closed(session_id)
            if observed.state == SessionState.EXITED:
                await self._ended(session_id, "exited", SessionState.EXITED)

        return on_state

    async def _record_turns(self, session_id: str) -> None:
        """The transcript's new turns go out before the state that follows them."""
        if self._turns is None:
            return
        try:
            await self._turns.catch_up(session_id)
        except Exception:
            log.exception("session %s: could not record its transcript turns", session_id)

    async def _prompt_opened(self, record: SessionRecord, observed: Observed) -> None:
        bound = self._hooks.bind(record.id, observed.details)
        if not self._asked.first_sight(record.id, observed.details, bound.id if bound else None):
            return  # the open prompt, shown again (its cursor moved): announced already
        try:
            await self._events.emit(
                "permission.asked",
                actor=Actor.system(),
                session=record.id,
                data={
                    "prompt": dict(observed.details),
                    "policy": record.policy,
                    # The hook call the screen agrees with (None: none does; approval will
                    # be refused).
                    "hook": bound.as_json() if bound else None,
                },
            )
        except BaseException:
            self._asked.closed(record.id)  # not announced: the next sight must try again
            raise
        disagreement = self._hooks.disagreement(record.id, observed.details)
        if disagreement is not None:
            await self._events.emit(
                "screen.disagreement", actor=Actor.system(), session=record.id, data=disagreement
            )

    async def delete(self, session_id: str, actor: Actor) -> SessionRecord:
        """Collect artifacts, remove the container (always), and mark the session ended."""
        record = await self.get(session_id, actor)
        await self._require_owner(session_id)
        await self._events.emit("session.deleted", actor=actor, session=session_id, data={})
        if self._queue.remove(session_id) is not None:
            return await self._delete_waiting(record)
        task = self._starting.pop(session_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        running = self._registry.pop(session_id)
        self._startups.pop(session_id, None)
        self._desk.forget(session_id)
        self._modes.forget(session_id)
        self._asked.forget(session_id)
        judged = self._hooks.tool_use_ids(session_id)  # the transcript must show these
        self._hooks.forget(session_id)
        if self._turns is not None:
            await self._record_turns(session_id)
            self._turns.forget(session_id)
        try:
            await self._launcher.collect(
                record, self._registry.paths(session_id), self._store, judged
            )
        finally:
            if running is not None:
                await self._launcher.detach(running)
            await self._launcher.remove_container(session_id, record.container_id)
            await self._launcher.release(self._registry.paths(session_id))
        state = record.state if record.state in FINAL_STATES else SessionState.EXITED
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
        if record.ended_at is None:  # an exited or failed session already said it ended
            await self._ended(session_id, "deleted", state)
        if self._tenures is not None:
            self._tenures.let_go(session_id)
            await asyncio.to_thread(self._tenures.leases.drop, session_id)
        return updated

    async def _delete_waiting(self, record: SessionRecord) -> SessionRecord:
        """A session deleted while it waited in line: nothing was made for it yet."""
        updated = await asyncio.to_thread(
            self._store.update,
            record.id,
            state=SessionState.EXITED,
            details={**record.details, "deleted": True},
            ended_at=utcnow(),
        )
        await self._ended(record.id, "deleted", SessionState.EXITED)
        if self._tenures is not None:
            self._tenures.let_go(record.id)
            await asyncio.to_thread(self._tenures.leases.drop, record.id)
        return updated

    # -- actions -----------------------------------------------------------------

    async def send(self, session_id: str, text: str, actor: Actor) -> None:
        """Deliver a prompt; the session must be idle."""
        record = await self.get(session_id, actor)
        await self._require_owner(session_id)
        await self._deliver(record, text, actor)

    async def _deliver(self, record: SessionRecord, text: str, actor: Actor) -> None:
        session_id = record.id
        running = self._registry.running(session_id)
        workspace = workspace_of(record, self._registry.paths(session_id))
        attributes: dict[str, str | int] = {
            "warden.actor": actor.subject,
            "warden.input.chars": len(text),
        }
        with self._traces.span(session_id, "input.delivery", attributes):
            async with running.lock:
                verdict = await self._check_input(record, text, actor, workspace)
                _require(running, {SessionState.IDLE}, "send input")
                await self._events.emit(
                    "input.sent", actor=actor, session=session_id, data={"text": text}
                )
                if verdict is not None:
                    # Bash mode runs the command with no hook: this is its only decision.
                    await self._events.emit(
                        "tool.decision",
                        actor=actor,
                        session=session_id,
                        data={
                            "source": "shell_escape",
                            "tool_name": "Bash",
                            "tool_input": {"command": parse_input(text).target},
                            "decision": verdict.decision,
                            "rule": verdict.rule,
                            "reason": verdict.reason,
                        },
                    )
                await running.driver.submit(text)

    async def _check_input(
        self, record: SessionRecord, text: str, actor: Actor, workspace: Path | None
    ) -> Decision | None:
        """Refuse (and audit) text that is not text, or that the policy does not allow."""
        try:
            check_text(text)
            return self._gate.check_input(record.policy, parse_input(text), workspace)
        except (InvalidInputError, PolicyDeniedError) as exc:
            await self._events.emit(
                "input.refused",
                actor=actor,
                session=record.id,
                data={"reason": exc.message, **exc.details},
            )
            raise

    async def resize(self, session_id: str, cols: int, rows: int, actor: Actor) -> None:
        """Resize the session's terminal (every watcher sees the new size)."""
        await self.get(session_id, actor)
        await self._require_owner(session_id)
        running = self._registry.running(session_id)
        await self._events.emit(
            "terminal.resized", actor=actor, session=session_id, data={"cols": cols, "rows": rows}
        )
        await running.live.resize(cols, rows)

    def live_view(self, session_id: str) -> LiveSession:
        """The running session's screen and byte stream (409 if it is not running)."""
        return self._registry.running(session_id).live

    async def check_approver(self, session_id: str, actor: Actor) -> None:
        """Raise ``AuthorizationError`` unless the actor is an approver of the session's policy."""
        record = await self.get(session_id, actor)
        self._gate.check_approver(record.policy, actor)

    async def approve(
        self,
        session_id: str,
        actor: Actor,
        *,
        expect: prompts.PromptCheck | None = None,
        request: str | None = None,
    ) -> int:
        """Approve the hook request the prompt on screen is for (``request``: that one),
        only if ``expect`` holds for the prompt, when given."""
        record = await self.get(session_id, actor)
        await self._require_owner(session_id)
        running = self._registry.running(session_id)
        workspace = workspace_of(record, self._registry.paths(session_id))
        return await self._desk.approve(record, running, actor, workspace, expect, request)

    async def reject(
        self, session_id: str, actor: Actor, *, expect: prompts.PromptCheck | None = None
    ) -> int | None:
        record = await self.get(session_id, actor)
        await self._require_owner(session_id)
        running = self._registry.running(session_id)
        return await self._desk.reject(record, running, actor, expect)

    async def answer(
        self, session_id: str, actor: Actor, *, option: int | None, text: str | None
    ) -> None:
        await self.get(session_id, actor)
        if text is not None:
            check_text(text)  # a free-text answer is typed too: text, never keys
        await self._require_owner(session_id)
        running = self._registry.running(session_id)
        await prompts.answer(running, self._events, session_id, actor, option=option, text=text)

    async def escape(self, session_id: str, actor: Actor, *, interrupt: bool) -> None:
        await self.get(session_id, actor)
        await self._require_owner(session_id)
        running = self._registry.running(session_id)
        await prompts.escape(running, self._events, session_id, actor, interrupt=interrupt)

    async def close(self) -> None:
        """Stop watching sessions; their containers keep running for re-adoption.

        The warm pool's unclaimed sandboxes are removed: no session owns them.
        """
        if self._pool is not None:
            await self._pool.close()
        for waiting in self._queue.drain():
            # The line lives in memory: a start never happens unasked after a restart.
            await self._fail(
                waiting.record.id,
                ConflictError("the controller shut down while the session waited in line"),
            )
        for task in list(self._starting.values()):
            task.cancel()
        for running in self._registry.drain():
            await self._launcher.detach(running)
        self._traces.close()

    async def readopt(self) -> list[str]:
        """Re-attach to running session containers found by label; end the vanished ones.

        With replicas, only the sessions whose lease this replica can take: the others
        run on a live replica (and are taken over here only once their lease expires).
        """
        adopted: list[str] = []
        containers = {info.session_id: info for info in await self._backend.list({})}
        live_states = [s for s in SessionState if s not in FINAL_STATES]
        active = await asyncio.to_thread(self._store.find, states=live_states)
        for record in active:
            if self._tenures is not None and await self._tenures.claim(record.id) is None:
                continue
            if await self._adopt(record, containers.get(record.id)):
                adopted.append(record.id)
        if not self._replicated:
            # Alone, a pooled sandbox no session has is a previous run's leftover. With
            # replicas it may be a live replica's pool: each replica removes its own at
            # close (docs/performance.md).
            await self._sweep_pool(containers, {record.id for record in active})
        return adopted

    async def take_over(self, session_id: str) -> bool:
        """Adopt a session whose owner's lease expired or was handed over (failover)."""
        if self._tenures is None or self._registry.is_running(session_id):
            return False
        if await self._tenures.claim(session_id) is None:
            return False  # another replica was quicker
        record = await asyncio.to_thread(self._store.get, session_id)
        if record is None or record.state in FINAL_STATES:
            self._tenures.let_go(session_id)
            await asyncio.to_thread(self._tenures.leases.drop, session_id)
            return False
        if self._restore_asks is not None:
            # The prompt its old owner left open is for a hook call only that replica
            # remembered: without it the prompt could never be approved here.
            await self._restore_asks(session_id)
        containers = {info.session_id: info for info in await self._backend.list({})}
        return await self._adopt(record, containers.get(session_id))

    async def relinquish(self, session_id: str) -> None:
        """Stop acting on a session at once: this replica's lease on it is gone."""
        if self._tenures is not None:
            self._tenures.let_go(session_id)
        running = self._registry.pop(session_id)
        self._desk.forget(session_id)
        self._modes.forget(session_id)
        self._asked.forget(session_id)
        self._traces.end(session_id, "relinquished")
        if running is not None:
            log.warning("session %s: lease lost, no longer acting on it", session_id)
            await self._launcher.detach(running)

    async def _adopt(self, record: SessionRecord, info: SandboxInfo | None) -> bool:
        if record.state == SessionState.QUEUED:
            # Its place in line was this controller's memory: fail it, never start it.
            await self._fail(record.id, ConflictError("the controller restarted while it waited"))
            return False
        if info is None or info.status != "running":
            await self._fail(record.id, ConflictError("the container was gone after a restart"))
            await self._launcher.release(self._registry.paths(record.id))
            return False
        try:
            running = await self._launcher.adopt(
                record,
                info.id,
                self._registry.paths(record.id),
                on_state=self._state_callback(record),
            )
        except Exception as exc:
            log.exception("could not re-adopt session %s", record.id)
            await self._fail(record.id, exc)
            return False
        self._registry.add(record.id, running)
        # A new trace: the one the session started in ended with the last controller.
        self._traces.begin(record.id, {**_trace_attributes(record), "warden.readopted": True})
        self._traces.started(record.id)
        return True

    async def _require_owner(self, session_id: str) -> None:
        """Act only on a session this replica holds the lease of; name its owner otherwise.

        Input and approvals must come from one replica only: two replicas typing into one
        session would deliver a prompt twice or answer a prompt nobody saw.
        """
        if self._tenures is None or self._tenures.holds(session_id):
            return
        lease = await asyncio.to_thread(self._tenures.leases.get, session_id)
        if lease is None or lease.expires_at <= utcnow():
            return  # no live owner: it runs nowhere (the registry answers 409)
        if lease.owner == self._tenures.replica:
            raise ConflictError(
                f"session {session_id}: this replica's lease is not confirmed; retry shortly"
            )
        url = (await asyncio.to_thread(self._tenures.leases.replicas)).get(lease.owner)
        raise NotOwnerError(session_id, lease.owner, url)

    async def _sweep_pool(self, containers: dict[str, SandboxInfo], active: set[str]) -> None:
        """Remove pooled sandboxes a previous run left unclaimed (no session has them)."""
        pooled = {info.session_id for info in await self._backend.list({POOL_LABEL: "1"})}
        for session_id in pooled - active:
            info = containers.get(session_id)
            if info is None or await asyncio.to_thread(self._store.get, session_id) is not None:
                continue
            log.info("removing unclaimed pooled sandbox %s", info.id[:12])
            await self._backend.remove(info.id)
            await self._launcher.release(self._registry.paths(session_id))


#: The workspace a pooled sandbox's template names: none (the claiming session's is copied).
_POOL_WORKSPACE = AdmittedWorkspace(source=PathSource(""), work_dir="")


def _trace_attributes(record: SessionRecord) -> dict[str, str]:
    return {
        "warden.policy": record.policy,
        "warden.tenant": record.tenant,
        "warden.image": record.image,
    }


def _message(exc: BaseException) -> str:
    return exc.message if isinstance(exc, WardenError) else f"{type(exc).__name__}: {exc}"


def _new_record(
    request: SessionRequest,
    actor: Actor,
    admitted: AdmittedWorkspace,
    default_image: str,
    workspace_mode: WorkspaceMode,
) -> SessionRecord:
    now = utcnow()
    return SessionRecord(
        id=str(uuid.uuid4()),
        tenant=actor.tenant,
        owner=actor.subject,
        state=SessionState.STARTING,
        details={},
        work_dir=admitted.work_dir,
        workspace=admitted.as_json(),
        workspace_mode=workspace_mode,
        policy=request.policy,
        image=request.image or default_image,
        model=request.model,
        permission_mode=request.permission_mode,
        unattended=request.unattended,
        prompt=request.prompt,
        env=dict(request.env),
        container_id=None,
        created_at=now,
        updated_at=now,
        name=request.name,
    )


def _same_session(found: SessionRecord, wanted: SessionRecord) -> bool:
    """Whether ``found`` is what ``wanted`` asks for, for the same owner."""
    return (
        found.tenant == wanted.tenant
        and found.owner == wanted.owner
        and found.policy == wanted.policy
        and found.work_dir == wanted.work_dir
        and dict(found.workspace) == dict(wanted.workspace)
        and found.workspace_mode == wanted.workspace_mode
        and found.image == wanted.image
        and found.model == wanted.model
        and found.permission_mode == wanted.permission_mode
        and dict(found.env) == dict(wanted.env)
    )


def _require(running: Running, states: set[SessionState], action: str) -> None:
    state = running.live.observed.state
    if state not in states:
        hint = {
            SessionState.PERMISSION_PROMPT: (
                "it is waiting for a permission decision: approve or reject first"
            ),
            SessionState.ASKING: "it is asking a question: answer it first",
            SessionState.WORKING: "it is working: wait for idle, or interrupt it",
            SessionState.STARTING: "it is still starting",
        }.get(state, f"it is {state}")
        raise ConflictError(
            f"cannot {action}: {hint}", details={"state": state, "allowed": sorted(states)}
        )
