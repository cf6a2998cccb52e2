"""The ``Warden`` port in the API process: the services, called as the REST routes call them.

Each operation runs the REST route's own handler with the authenticated actor, so the
tenant checks, the policy checks and the audit events are the ones REST has. The role
each route declares in its signature (``ViewerDep``, ``ApproverDep``…) is checked here
first, from one table, and a refusal is audited as the REST layer audits it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from starlette.responses import Response

from runner.api import audit as audit_routes
from runner.api import health as health_routes
from runner.api import memory as memory_routes
from runner.api import pipelines as pipeline_routes
from runner.api import policies as policy_routes
from runner.api import sessions as session_routes
from runner.api import templates as template_routes
from runner.api.audit import ExportRequest, Verification
from runner.api.memory import MemoryList, MemoryOut, PutMemory
from runner.api.pipelines import CreatePipeline, PipelineList, PipelineOut
from runner.api.policies import ExplainRequest
from runner.api.schemas import (
    ActionResult,
    Answer,
    BatchCreate,
    BatchResult,
    CreateSession,
    Health,
    Pane,
    SendInput,
    SessionList,
    SessionOut,
    TranscriptPage,
)
from runner.api.templates import TemplateList
from runner.auth.roles import APPROVER, AUDITOR, OPERATOR, VIEWER, has_any_role
from runner.core import Actor, SessionState
from runner.errors import AuthorizationError, WardenError
from runner.events.feed import Selection
from runner.mcp.ports import CallError, Change
from runner.services import Services

T = TypeVar("T")

#: The role each operation needs: the same as its REST route (runner/api/sessions.py…).
ROLES: dict[str, str] = {
    "create_session": OPERATOR,
    "list_sessions": VIEWER,
    "get_session": VIEWER,
    "send": OPERATOR,
    "transcript_page": VIEWER,
    "pane": VIEWER,
    "approve": APPROVER,
    "reject": APPROVER,
    "answer": APPROVER,
    "interrupt": OPERATOR,
    "escape": OPERATOR,
    "delete_session": OPERATOR,
    "patch": VIEWER,
    "list_templates": VIEWER,
    "explain_policy": VIEWER,
    "policy": VIEWER,
    "wait_for_state": VIEWER,
    "create_batch": OPERATOR,
    "create_pipeline": OPERATOR,
    "get_pipeline": VIEWER,
    "list_pipelines": VIEWER,
    "memory_list": VIEWER,
    "memory_get": VIEWER,
    "memory_set": OPERATOR,
    "memory_delete": OPERATOR,
    "verify_audit": AUDITOR,
    "subscribe": VIEWER,
}

#: How often a wait looks again with no event: the live state can settle (idle is
#: debounced) without a ledger event of its own.
_RECHECK_SECONDS = 0.5


class LocalWarden:
    """The services acting for one authenticated caller of ``/mcp``."""

    def __init__(self, services: Services, actor: Actor, *, client: str | None) -> None:
        self._services = services
        self._actor = actor
        self._client = client

    async def _run(
        self, operation: str, session: str | None, call: Callable[[], Awaitable[T]]
    ) -> T:
        try:
            await self._allow(operation, session)
            return await call()
        except WardenError as exc:
            raise CallError(None, exc.code, exc.message) from exc

    async def _allow(self, operation: str, session: str | None) -> None:
        role = ROLES[operation]
        recorder = self._services.recorder
        data: dict[str, Any] = {"operation": operation, "client": self._client}
        if not has_any_role(self._actor.roles, {role}):
            denied = AuthorizationError(
                f"{self._actor.subject} needs the {role} role for this",
                details={"reason": "missing_role", "required": [role]},
            )
            # Fail closed: an unrecordable refusal raises (and refuses) all the same.
            await recorder.emit(
                "auth.denied",
                actor=self._actor,
                session=session,
                data={**denied.details, **data, "message": denied.message, "path": "/mcp"},
            )
            raise denied
        # The MCP call itself, naming the client: the REST handler below records the
        # effect (input.sent, permission.decided…) as it does for any caller.
        await recorder.emit("mcp.call", actor=self._actor, session=session, data=data)

    async def create_session(self, body: CreateSession) -> SessionOut:
        services = self._services

        async def create() -> SessionOut:
            return await session_routes.create_session(
                body, services.manager, self._actor, Response(), services.templates
            )

        return await self._run("create_session", None, create)

    async def list_sessions(self, states: Sequence[SessionState] | None) -> SessionList:
        manager = self._services.manager
        wanted = list(states) if states else None
        return await self._run(
            "list_sessions",
            None,
            lambda: session_routes.list_sessions(manager, self._actor, wanted),
        )

    async def get_session(self, session_id: str) -> SessionOut:
        manager = self._services.manager
        return await self._run(
            "get_session",
            session_id,
            lambda: session_routes.get_session(session_id, manager, self._actor),
        )

    async def send(self, session_id: str, text: str) -> ActionResult:
        manager = self._services.manager
        body = SendInput(text=text)
        return await self._run(
            "send", session_id, lambda: session_routes.send(session_id, body, manager, self._actor)
        )

    async def transcript_page(
        self, session_id: str, *, before_id: int | None, limit: int, role: str | None
    ) -> TranscriptPage:
        views = self._services.views
        return await self._run(
            "transcript_page",
            session_id,
            lambda: session_routes.transcript_page(
                session_id, views, self._actor, before_id=before_id, limit=limit, role=role
            ),
        )

    async def pane(self, session_id: str) -> Pane:
        views = self._services.views
        return await self._run(
            "pane", session_id, lambda: session_routes.pane(session_id, views, self._actor)
        )

    async def act(self, session_id: str, action: str) -> ActionResult:
        routes = {
            "approve": session_routes.approve,
            "reject": session_routes.reject,
            "interrupt": session_routes.interrupt,
            "escape": session_routes.escape,
        }
        route = routes[action]
        manager = self._services.manager
        return await self._run(action, session_id, lambda: route(session_id, manager, self._actor))

    async def answer(self, session_id: str, option: int | None, text: str | None) -> ActionResult:
        manager = self._services.manager
        body = Answer(option=option, text=text)
        return await self._run(
            "answer",
            session_id,
            lambda: session_routes.answer(session_id, body, manager, self._actor),
        )

    async def delete_session(self, session_id: str) -> SessionOut:
        manager = self._services.manager
        ended = await self._run(
            "delete_session",
            session_id,
            lambda: session_routes.delete_session(session_id, manager, self._actor),
        )
        # The tool's output is the session; REST's Aegis acknowledgement (ok) is not part of it.
        return SessionOut.model_validate(ended.model_dump(exclude={"ok"}))

    async def patch(self, session_id: str) -> str:
        views = self._services.views
        return await self._run(
            "patch", session_id, lambda: session_routes.patch(session_id, views, self._actor)
        )

    async def list_templates(self) -> TemplateList:
        store = self._services.templates
        return await self._run(
            "list_templates", None, lambda: template_routes.list_templates(store, self._actor)
        )

    async def create_batch(self, body: BatchCreate) -> BatchResult:
        services = self._services
        return await self._run(
            "create_batch",
            None,
            lambda: session_routes.create_batch(
                body, services.manager, self._actor, services.templates
            ),
        )

    async def create_pipeline(self, body: CreatePipeline) -> PipelineOut:
        services = self._services
        return await self._run(
            "create_pipeline",
            None,
            lambda: pipeline_routes.create_pipeline(
                body, services.pipelines, services.templates, self._actor
            ),
        )

    async def get_pipeline(self, pipeline_id: str) -> PipelineOut:
        service = self._services.pipelines
        return await self._run(
            "get_pipeline",
            None,
            lambda: pipeline_routes.get_pipeline(pipeline_id, service, self._actor),
        )

    async def list_pipelines(self) -> PipelineList:
        service = self._services.pipelines
        return await self._run(
            "list_pipelines", None, lambda: pipeline_routes.list_pipelines(service, self._actor)
        )

    async def memory_list(self, prefix: str) -> MemoryList:
        store = self._services.memory
        return await self._run(
            "memory_list", None, lambda: memory_routes.list_memory(store, self._actor, prefix)
        )

    async def memory_get(self, key: str) -> MemoryOut:
        store = self._services.memory
        return await self._run(
            "memory_get", None, lambda: memory_routes.get_entry(key, store, self._actor)
        )

    async def memory_set(self, key: str, value: Any, if_version: int | None) -> MemoryOut:
        services = self._services
        body = PutMemory(value=value, if_version=if_version)
        return await self._run(
            "memory_set",
            None,
            lambda: memory_routes.put_entry(
                key, body, services.memory, services.recorder, self._actor
            ),
        )

    async def memory_delete(self, key: str) -> None:
        services = self._services

        async def delete() -> None:
            await memory_routes.delete_entry(key, services.memory, services.recorder, self._actor)

        await self._run("memory_delete", None, delete)

    async def explain_policy(
        self, name: str, tool: str, tool_input: dict[str, Any]
    ) -> dict[str, Any]:
        gate = self._services.gate
        body = ExplainRequest(tool=tool, input=tool_input)

        async def explain() -> dict[str, Any]:
            result = await policy_routes.explain(name, body, gate, self._actor)
            return result.model_dump(mode="json", by_alias=True)

        return await self._run("explain_policy", None, explain)

    async def policy(self, name: str) -> dict[str, Any]:
        gate = self._services.gate
        return await self._run(
            "policy", None, lambda: policy_routes.get_policy(name, gate, self._actor)
        )

    async def verify_audit(self, session: str | None) -> tuple[str, Verification]:
        services = self._services

        async def verify() -> tuple[str, Verification]:
            made = await audit_routes.export(
                ExportRequest(session=session),
                services.ledger,
                services.recorder,
                self._actor,
                services.settings,
            )
            checked = await audit_routes.export_verification(
                made.id, services.ledger, self._actor, services.settings
            )
            return made.id, checked

        return await self._run("verify_audit", session, verify)

    async def health(self) -> Health:
        # Public, as GET /v1/health is.
        return await health_routes.health(self._services)

    async def wait_for_state(
        self, session_id: str, states: frozenset[SessionState], seconds: float
    ) -> SessionOut:
        manager = self._services.manager
        bus = self._services.bus

        async def wait() -> SessionOut:
            deadline = time.monotonic() + seconds
            # Listen before the first look, so a change between the look and the wait
            # still wakes it (the events issue's bus: no polling of the store).
            with bus.listen(size=100) as listener:
                while True:
                    listener.take()
                    session = await session_routes.get_session(session_id, manager, self._actor)
                    remaining = deadline - time.monotonic()
                    if session.state in states or remaining <= 0:
                        return session
                    await listener.wait(min(remaining, _RECHECK_SECONDS))
                    await asyncio.sleep(0)

        return await self._run("wait_for_state", session_id, wait)

    @asynccontextmanager
    async def changes(self, types: frozenset[str]) -> AsyncIterator[AsyncIterator[list[Change]]]:
        feed = self._services.feed
        await self._run("subscribe", None, _nothing)
        # The tenant filter of GET /v1/events: a subscriber hears only of sessions it may
        # read (TenantOf maps each event to its session's own tenant, not the actor's).
        selection = Selection(
            tenant=None if self._actor.sees_all_tenants else self._actor.tenant, types=types
        )
        start = feed.head()  # "now": what is recorded after this is delivered

        async def follow() -> AsyncGenerator[list[Change]]:
            async for batch in feed.follow(selection, -1 if start is None else start):
                yield [Change(e.type, e.session) for e in batch if e.session is not None]

        stream = follow()
        try:
            yield stream
        finally:
            await stream.aclose()


async def _nothing() -> None:
    return None
