"""The ``Warden`` port over a running server's REST API, for ``warden mcp`` (stdio).

Each operation is the ``runner.client`` call it stands for, made as the caller the
token names (the same ``--server``/``--token`` and ``WARDEN_SERVER``/``WARDEN_TOKEN``
settings as every ``warden sessions`` command); the client's errors become the MCP
server's ``CallError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

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
from runner.client import (
    AsyncWardenClient,
    WardenApiError,
    WardenArgumentError,
    WardenClientError,
    WardenUnreachable,
)
from runner.core import SessionState
from runner.mcp.ports import RESYNC, CallError, Change

log = logging.getLogger(__name__)

#: The header naming the MCP client (the server's runner.api.security.MCP_CLIENT_HEADER).
MCP_CLIENT = "X-Warden-MCP-Client"
#: How often ``wait_for_state`` looks at the session (the REST API has no long-poll).
POLL_SECONDS = 0.5
#: How long a dropped event stream waits before it resumes (after the last id it had).
RESUME_SECONDS = 1.0

T = TypeVar("T")


def remote_client(server: str | None, token: str | None) -> AsyncWardenClient:
    """The client ``warden mcp`` talks to the server with."""
    return AsyncWardenClient(server, token, headers={"User-Agent": f"warden-mcp/{__version__}"})


async def _asked(pending: Awaitable[T]) -> T:
    try:
        return await pending
    except WardenApiError as exc:
        raise CallError(exc.status, exc.code, exc.message) from exc
    except WardenArgumentError as exc:
        raise CallError(None, "invalid_input", str(exc)) from exc
    except WardenClientError as exc:  # unreachable, or an answer of another shape
        raise CallError(None, "unreachable", str(exc)) from exc


class RemoteWarden:
    """Each operation is the REST call it stands for, as the caller the token names."""

    def __init__(self, client: AsyncWardenClient) -> None:
        self._client = client
        self.server = client.base_url
        self._client_name: str | None = None
        self._actions: dict[str, Callable[[str], Awaitable[ActionResult]]] = {
            "approve": client.approve,
            "reject": client.reject,
            "interrupt": client.interrupt,
            "escape": client.escape,
        }

    @property
    def client_name(self) -> str | None:
        """The MCP client's handshake name, sent with each call so the server's audit of
        a change names it (runner.api.security.MCP_CLIENT_HEADER)."""
        return self._client_name

    @client_name.setter
    def client_name(self, name: str | None) -> None:
        self._client_name = name
        if name:
            self._client.headers[MCP_CLIENT] = name
        else:
            self._client.headers.pop(MCP_CLIENT, None)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def create_session(self, body: CreateSession) -> SessionOut:
        return await _asked(self._client.create_session(body))

    async def list_sessions(self, states: Sequence[SessionState] | None) -> SessionList:
        return await _asked(self._client.list_sessions(states or ()))

    async def get_session(self, session_id: str) -> SessionOut:
        return await _asked(self._client.get_session(session_id))

    async def send(self, session_id: str, text: str) -> ActionResult:
        return await _asked(self._client.send(session_id, text))

    async def transcript_page(
        self, session_id: str, *, before_id: int | None, limit: int, role: str | None
    ) -> TranscriptPage:
        page = self._client.transcript_page(session_id, before_id=before_id, limit=limit, role=role)
        return await _asked(page)

    async def pane(self, session_id: str) -> Pane:
        return await _asked(self._client.pane(session_id))

    async def act(self, session_id: str, action: str) -> ActionResult:
        return await _asked(self._actions[action](session_id))

    async def answer(self, session_id: str, option: int | None, text: str | None) -> ActionResult:
        return await _asked(self._client.answer(session_id, option=option, text=text))

    async def delete_session(self, session_id: str) -> SessionOut:
        return await _asked(self._client.delete_session(session_id))

    async def patch(self, session_id: str) -> str:
        return await _asked(self._client.patch(session_id))

    async def list_templates(self) -> TemplateList:
        return await _asked(self._client.list_templates())

    async def create_batch(self, body: BatchCreate) -> BatchResult:
        return await _asked(self._client.create_batch(body))

    async def create_pipeline(self, body: CreatePipeline) -> PipelineOut:
        return await _asked(self._client.create_pipeline(body))

    async def get_pipeline(self, pipeline_id: str) -> PipelineOut:
        return await _asked(self._client.get_pipeline(pipeline_id))

    async def list_pipelines(self) -> PipelineList:
        return await _asked(self._client.list_pipelines())

    async def memory_list(self, prefix: str) -> MemoryList:
        return await _asked(self._client.list_memory(prefix))

    async def memory_get(self, key: str) -> MemoryOut:
        return await _asked(self._client.get_memory(key))

    async def memory_set(self, key: str, value: Any, if_version: int | None) -> MemoryOut:
        return await _asked(self._client.put_memory(key, value, if_version=if_version))

    async def memory_delete(self, key: str) -> None:
        await _asked(self._client.delete_memory(key))

    async def explain_policy(
        self, name: str, tool: str, tool_input: dict[str, Any]
    ) -> dict[str, Any]:
        found = await _asked(self._client.explain_policy(name, tool, tool_input))
        return found.model_dump(mode="json", by_alias=True)

    async def policy(self, name: str) -> dict[str, Any]:
        return await _asked(self._client.get_policy(name))

    async def verify_audit(self, session: str | None) -> tuple[str, Verification]:
        made = await _asked(self._client.create_export(session=session))
        return made.id, await _asked(self._client.verify_export(made.id))

    async def health(self) -> Health:
        return await _asked(self._client.health())

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
        queue: asyncio.Queue[list[Change] | None] = asyncio.Queue()
        opened = asyncio.Event()
        dropped = False

        def on_open(after: int | None) -> None:
            nonlocal dropped
            if dropped and after is None:
                # No event yet, so no cursor to resume from: what happened in the gap is
                # unknown, and every subscriber is told to re-read.
                queue.put_nowait([RESYNC])
            dropped = False
            opened.set()

        def on_drop(exc: Exception, after: int | None) -> None:
            nonlocal dropped
            if not opened.is_set():  # never answered: the subscribe fails, not waits
                raise WardenUnreachable(self.server, exc)
            dropped = True
            log.warning("event stream interrupted (%s); resuming after %s", exc, after)

        async def pump() -> None:
            stream = self._client.events(
                types=sorted(types),
                retry_seconds=RESUME_SECONDS,
                on_drop=on_drop,
                on_open=on_open,
            )
            try:
                async for event in stream:
                    if event.session:
                        queue.put_nowait([Change(event.type, event.session)])
            except WardenClientError as exc:
                if not opened.is_set():
                    raise
                # Fail closed: a token that may no longer read ends the updates.
                log.warning("event stream refused (%s); no more updates", exc)
            finally:
                queue.put_nowait(None)

        task = asyncio.create_task(pump())
        ready = asyncio.create_task(opened.wait())
        try:
            await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
            if not opened.is_set():
                await _asked(task)  # the stream's first answer was an error: raise it

            async def follow() -> AsyncGenerator[list[Change]]:
                while (changes := await queue.get()) is not None:
                    yield changes

            yield follow()
        finally:
            ready.cancel()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
