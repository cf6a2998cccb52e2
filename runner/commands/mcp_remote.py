"""The ``Warden`` port over a running server's REST API, for ``warden mcp`` (stdio).

The only module that ties the MCP server to the CLI's client (``ApiClient``: the same
``--server``/``--token`` and ``WARDEN_SERVER``/``WARDEN_TOKEN`` settings as every
``warden sessions`` command); swap it here for a typed client package.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx
from httpx_sse import EventSource, SSEError, aconnect_sse

from runner import __version__
from runner.api.audit import Verification
from runner.api.memory import MemoryList, MemoryOut
from runner.api.pipelines import CreatePipeline, PipelineList, PipelineOut
from runner.api.schemas import (
    ActionResult,
    BatchCreate,
    BatchResult,
    CreateSession,
    Health,
    Pane,
    SessionList,
    SessionOut,
    TranscriptPage,
)
from runner.api.templates import TemplateList
from runner.commands.client import ApiClient
from runner.core import SessionState
from runner.mcp.ports import RESYNC, CallError, Change

log = logging.getLogger(__name__)

#: The header naming the MCP client (the server's runner.api.security.MCP_CLIENT_HEADER).
MCP_CLIENT = "X-Warden-MCP-Client"
#: How often ``wait_for_state`` looks at the session (the REST API has no long-poll).
POLL_SECONDS = 0.5
#: A request's own limit; ``wait_for_state`` polls, so no request is held long.
_TIMEOUT = 60
#: How long a dropped event stream waits before it resumes (after the last id it had).
RESUME_SECONDS = 1.0


class RemoteWarden:
    """Each operation is the REST call it stands for, as the caller the token names."""

    def __init__(self, client: ApiClient) -> None:
        self.server = client.server
        headers = {"User-Agent": f"warden-mcp/{__version__}"}
        authorization = client.http.headers.get("authorization")
        if authorization:
            headers["Authorization"] = authorization
        self._http = httpx.AsyncClient(base_url=self.server, headers=headers, timeout=_TIMEOUT)
        #: The MCP client's handshake name, sent with each call so the server's audit of
        #: a change names it (runner.api.security.MCP_CLIENT_HEADER).
        self.client_name: str | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            if self.client_name:
                kwargs["headers"] = {**kwargs.get("headers", {}), MCP_CLIENT: self.client_name}
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CallError(
                None, "unreachable", f"cannot reach Warden at {self.server}: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise _error(response)
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    async def create_session(self, body: CreateSession) -> SessionOut:
        payload = body.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return SessionOut.model_validate(await self._call("POST", "/v1/sessions", json=payload))

    async def list_sessions(self, states: Sequence[SessionState] | None) -> SessionList:
        params = [("state", s.value) for s in states or ()]
        return SessionList.model_validate(await self._call("GET", "/v1/sessions", params=params))

    async def get_session(self, session_id: str) -> SessionOut:
        return SessionOut.model_validate(await self._call("GET", _path(session_id)))

    async def send(self, session_id: str, text: str) -> ActionResult:
        found = await self._call("POST", _path(session_id, "send"), json={"text": text})
        return ActionResult.model_validate(found)

    async def transcript_page(
        self, session_id: str, *, before_id: int | None, limit: int, role: str | None
    ) -> TranscriptPage:
        params: dict[str, Any] = {"limit": limit}
        if before_id is not None:
            params["beforeId"] = before_id
        if role is not None:
            params["role"] = role
        found = await self._call("GET", _path(session_id, "transcript/cursor"), params=params)
        return TranscriptPage.model_validate(found)

    async def pane(self, session_id: str) -> Pane:
        return Pane.model_validate(await self._call("GET", _path(session_id, "pane")))

    async def act(self, session_id: str, action: str) -> ActionResult:
        return ActionResult.model_validate(await self._call("POST", _path(session_id, action)))

    async def answer(self, session_id: str, option: int | None, text: str | None) -> ActionResult:
        body = {k: v for k, v in {"option": option, "text": text}.items() if v is not None}
        found = await self._call("POST", _path(session_id, "answer"), json=body)
        return ActionResult.model_validate(found)

    async def delete_session(self, session_id: str) -> SessionOut:
        return SessionOut.model_validate(await self._call("DELETE", _path(session_id)))

    async def patch(self, session_id: str) -> str:
        found = await self._call("GET", _path(session_id, "patch"))
        return found if isinstance(found, str) else str(found)

    async def list_templates(self) -> TemplateList:
        return TemplateList.model_validate(await self._call("GET", "/v1/templates"))

    async def create_batch(self, body: BatchCreate) -> BatchResult:
        payload = body.model_dump(mode="json", by_alias=True, exclude_unset=True)
        found = await self._call("POST", "/v1/sessions/batch", json=payload)
        return BatchResult.model_validate(found)

    async def create_pipeline(self, body: CreatePipeline) -> PipelineOut:
        payload = body.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return PipelineOut.model_validate(await self._call("POST", "/v1/pipelines", json=payload))

    async def get_pipeline(self, pipeline_id: str) -> PipelineOut:
        found = await self._call("GET", f"/v1/pipelines/{_segment(pipeline_id)}")
        return PipelineOut.model_validate(found)

    async def list_pipelines(self) -> PipelineList:
        return PipelineList.model_validate(await self._call("GET", "/v1/pipelines"))

    async def memory_list(self, prefix: str) -> MemoryList:
        found = await self._call("GET", "/v1/memory", params={"prefix": prefix})
        return MemoryList.model_validate(found)

    async def memory_get(self, key: str) -> MemoryOut:
        return MemoryOut.model_validate(await self._call("GET", f"/v1/memory/{_segment(key)}"))

    async def memory_set(self, key: str, value: Any, if_version: int | None) -> MemoryOut:
        body: dict[str, Any] = {"value": value}
        if if_version is not None:
            body["ifVersion"] = if_version
        found = await self._call("PUT", f"/v1/memory/{_segment(key)}", json=body)
        return MemoryOut.model_validate(found)

    async def memory_delete(self, key: str) -> None:
        await self._call("DELETE", f"/v1/memory/{_segment(key)}")

    async def explain_policy(
        self, name: str, tool: str, tool_input: dict[str, Any]
    ) -> dict[str, Any]:
        body = {"tool": tool, "input": tool_input}
        found: dict[str, Any] = await self._call(
            "POST", f"/v1/policies/{_segment(name)}/explain", json=body
        )
        return found

    async def policy(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._call("GET", f"/v1/policies/{_segment(name)}")
        return found

    async def verify_audit(self, session: str | None) -> tuple[str, Verification]:
        made: dict[str, Any] = await self._call(
            "POST", "/v1/audit/exports", json={"session": session} if session else {}
        )
        export_id = str(made["id"])
        checked = await self._call("GET", f"/v1/audit/exports/{_segment(export_id)}/verification")
        return export_id, Verification.model_validate(checked)

    async def health(self) -> Health:
        return Health.model_validate(await self._call("GET", "/v1/health"))

    async def wait_for_state(
        self, session_id: str, states: frozenset[SessionState], seconds: float
    ) -> SessionOut:
        deadline = time.monotonic() + seconds
        while True:
            session = await self.get_session(session_id)
            remaining = deadline - time.monotonic()
            if session.state in states or remaining <= 0:
                return session
            await asyncio.sleep(min(POLL_SECONDS, remaining))

    @asynccontextmanager
    async def changes(self, types: frozenset[str]) -> AsyncIterator[AsyncIterator[list[Change]]]:
        # GET /v1/events is the server's own tenant filter (and its viewer check): this
        # process hears only of sessions the token may read.
        params = [("type", t) for t in sorted(types)]
        opened = AsyncExitStack()
        try:
            first = await self._open_events(opened, params, None)
        except BaseException:
            await opened.aclose()
            raise

        async def follow() -> AsyncGenerator[list[Change]]:
            stack, events, last = opened, first, None
            while True:
                try:
                    async with stack:
                        async for sse in events.aiter_sse():
                            if not sse.data:
                                continue  # a keep-alive comment
                            event = json.loads(sse.data)
                            last = int(sse.id) if sse.id else last
                            if event.get("session"):
                                yield [Change(str(event["type"]), str(event["session"]))]
                except (httpx.TransportError, SSEError) as exc:
                    log.warning("event stream interrupted (%s); resuming after %s", exc, last)
                while True:
                    await asyncio.sleep(RESUME_SECONDS)
                    stack = AsyncExitStack()
                    try:
                        events = await self._open_events(stack, params, last)
                        if last is None:
                            # No event yet, so no cursor to resume from: what happened in
                            # the gap is unknown, and every subscriber is told to re-read.
                            yield [RESYNC]
                        break
                    except CallError as exc:
                        await stack.aclose()
                        if exc.status is not None:
                            # Fail closed: a token that may no longer read ends the stream.
                            log.warning("event stream refused (%s); no more updates", exc)
                            return
                        log.warning("cannot resume the event stream: %s", exc)

        stream = follow()
        try:
            yield stream
        finally:
            await stream.aclose()

    async def _open_events(
        self, stack: AsyncExitStack, params: list[tuple[str, str]], after: int | None
    ) -> EventSource:
        """``/v1/events``, open on ``stack``: once the server has answered its cursor is
        fixed, so nothing that happens after this returns is missed."""
        headers = {"Last-Event-ID": str(after)} if after is not None else {}
        if self.client_name:
            headers[MCP_CLIENT] = self.client_name
        timeout = httpx.Timeout(_TIMEOUT, read=None)
        try:
            events = await stack.enter_async_context(
                aconnect_sse(
                    self._http, "GET", "/v1/events", params=params, headers=headers, timeout=timeout
                )
            )
        except httpx.HTTPError as exc:
            raise CallError(
                None, "unreachable", f"cannot reach Warden at {self.server}: {exc}"
            ) from exc
        if events.response.status_code >= 400:
            await events.response.aread()
            raise _error(events.response)
        return events


def _segment(value: str) -> str:
    """One path segment: an id with a slash in it must not reach another route."""
    return quote(value, safe="")


def _path(session_id: str, action: str | None = None) -> str:
    base = f"/v1/sessions/{_segment(session_id)}"
    return f"{base}/{action}" if action else base


def _error(response: httpx.Response) -> CallError:
    try:
        error = response.json()["error"]
        return CallError(response.status_code, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        return CallError(response.status_code, "http_error", response.text[:500])
