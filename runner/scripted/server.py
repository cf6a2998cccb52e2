"""The scripted model: a local Anthropic Messages API that plays scripts (see ``script.py``).

It is the upstream for every test and for the offline demo. Use it from async code::

    async with ScriptedModelServer() as server:
        ...  # ANTHROPIC_BASE_URL=server.url

or from sync code (tests, fixture recorders), where it runs on a background thread::

    with ScriptedModelServer() as server:
        ...
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from runner.errors import InvalidInputError, WardenError
from runner.gateway.anthropic_errors import error_response
from runner.gateway.serving import BackgroundServer
from runner.scripted.player import ErrorCounts, Failure, plan_reply
from runner.scripted.reply import estimate_tokens, message_json, sse_events
from runner.scripted.script import Script


@dataclass(frozen=True)
class ReceivedRequest:
    """A request as the scripted model saw it (tests assert on headers and bodies)."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class ScriptedModel:
    """The model's state: its script, error counters and the requests it received."""

    def __init__(self, script: Script | None = None, *, keep_requests: int = 500) -> None:
        self.script = script or Script()
        self.requests: deque[ReceivedRequest] = deque(maxlen=keep_requests)
        self._error_counts: ErrorCounts = {}

    def app(self) -> Starlette:
        """The ASGI app serving this model."""
        return Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
                Route("/{path:path}", _not_found, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )

    async def _messages(self, request: Request) -> Response:
        body = await self._receive(request)
        if body is None:
            return error_response(400, "request body must be a JSON object")
        try:
            reply = plan_reply(body, self.script, self._error_counts)
        except InvalidInputError as exc:
            return error_response(400, exc.message)
        if isinstance(reply, Failure):
            return error_response(reply.status, reply.message)
        if body.get("stream"):
            return StreamingResponse(sse_events(reply), media_type="text/event-stream")
        return JSONResponse(message_json(reply))

    async def _count_tokens(self, request: Request) -> Response:
        body = await self._receive(request)
        if body is None:
            return error_response(400, "request body must be a JSON object")
        text = json.dumps([body.get("system"), body.get("messages"), body.get("tools")])
        return JSONResponse({"input_tokens": estimate_tokens(text)})

    async def _receive(self, request: Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        recorded = body if isinstance(body, dict) else {}
        self.requests.append(ReceivedRequest(request.method, request.url.path, headers, recorded))
        return body if isinstance(body, dict) else None


def create_scripted_app(script: Script | None = None) -> Starlette:
    """An ASGI app of a fresh scripted model playing ``script``."""
    return ScriptedModel(script).app()


async def _not_found(request: Request) -> Response:
    what = f"{request.method} {request.url.path}"
    return error_response(404, f"the scripted model does not serve {what}")


class ScriptedModelServer:
    """The scripted model on ``http://host:port`` (port 0 picks a free one), async or threaded."""

    def __init__(
        self, script: Script | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.model = ScriptedModel(script)
        self._host = host
        self._server = BackgroundServer(self.model.app(), host=host, port=port)
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        """Base URL for ``ANTHROPIC_BASE_URL``."""
        return f"http://{self._host}:{self._server.port}"

    @property
    def requests(self) -> deque[ReceivedRequest]:
        return self.model.requests

    async def start(self) -> None:
        await self._server.start()

    async def close(self) -> None:
        await self._server.close()

    async def __aenter__(self) -> ScriptedModelServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start_in_thread(self, timeout: float = 10.0) -> None:
        """Serve from a background thread with its own event loop (for sync callers).

        Raises:
            WardenError: the server did not start within ``timeout`` seconds.
        """
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run_thread, args=(ready, failure), daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or failure:
            raise WardenError(f"scripted model did not start: {failure or 'timeout'}")

    def stop_thread(self) -> None:
        """Stop the background thread started by ``start_in_thread``."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> ScriptedModelServer:
        self.start_in_thread()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_thread()

    def _run_thread(self, ready: threading.Event, failure: list[BaseException]) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await self.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            await self._stop.wait()
            await self.close()

        asyncio.run(main())
