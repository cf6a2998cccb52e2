"""Running an ASGI app with uvicorn inside the caller's event loop (many per process)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from runner.errors import WardenError


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves process signals to its host (the controller)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


#: How long requests still running at close may go on before they are cut short.
_GRACE_SECONDS = 2.0


class _Closable:
    """ASGI wrapper whose in-flight requests can be ended at close, quietly.

    A session's gateway closes while Claude Code may be mid-stream (a slow reply, a
    retry). uvicorn would cancel such a request itself after its graceful timeout and
    log the ``CancelledError`` as "Exception in ASGI application" with a traceback; a
    normal end of a session is no error. Here the request is cancelled by us, and its
    response is ended where it stands (or answered 503 if it had not started).
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        task = asyncio.current_task()
        if scope.get("type") != "http" or task is None:
            await self._app(scope, receive, send)
            return
        sent = {"started": False, "ended": False}

        async def tracked(message: Any) -> None:
            if message["type"] == "http.response.start":
                sent["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                sent["ended"] = True
            await send(message)

        self._tasks.add(task)
        try:
            await self._app(scope, receive, tracked)
        except asyncio.CancelledError:
            if not self._closing:
                raise
            await self._end(send, sent)
        finally:
            self._tasks.discard(task)

    @staticmethod
    async def _end(send: Any, sent: dict[str, bool]) -> None:
        with contextlib.suppress(Exception):  # the client may be gone already
            if not sent["started"]:
                headers = [(b"content-type", b"text/plain"), (b"connection", b"close")]
                await send({"type": "http.response.start", "status": 503, "headers": headers})
            if not sent["ended"]:
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def drain(self) -> None:
        """Wait until the running requests finished (callers bound the wait)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    def cut_short(self) -> None:
        """Cancel every request still running (the server is closing)."""
        self._closing = True
        for task in list(self._tasks):
            task.cancel()


#: sun_path holds 108 bytes on Linux; longer paths are bound through a directory fd.
_SUN_PATH_MAX = 100


def bind_unix(path: Path) -> socket.socket:
    """A listening unix socket at ``path``, however long the path is.

    A deep data directory easily passes the 108-byte sun_path limit; binding via
    ``/proc/self/fd/<dir fd>/<name>`` names the same directory in a few bytes.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if len(os.fsencode(path)) <= _SUN_PATH_MAX:
            sock.bind(str(path))
        else:
            dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                sock.bind(f"/proc/self/fd/{dir_fd}/{path.name}")
            finally:
                os.close(dir_fd)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise WardenError(f"cannot listen on {path}: {exc}") from exc
    return sock


class BackgroundServer:
    """One uvicorn server run as a task of the current loop; ``start`` waits until it listens."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        uds: str | None = None,
        sock: socket.socket | None = None,
    ) -> None:
        self._app = _Closable(app)
        config = uvicorn.Config(
            self._app,
            host=host,
            port=port,
            uds=uds,
            lifespan="off",
            # One per session in the controller: never reconfigure the process's logging.
            log_config=None,
            log_level="warning",
            access_log=False,
            # ``close`` cuts streams short after _GRACE_SECONDS; this is only a backstop.
            timeout_graceful_shutdown=int(_GRACE_SECONDS) + 5,
        )
        self._server = _QuietServer(config)
        self._sockets = [sock] if sock is not None else None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve in the background; return once the socket listens.

        Raises:
            WardenError: the server could not bind or stopped during start-up.
        """
        self._task = asyncio.create_task(self._serve())
        while not self._server.started:
            if self._task.done():
                exc = self._task.exception() if not self._task.cancelled() else None
                raise WardenError(f"server failed to start: {exc}") from exc
            await asyncio.sleep(0.01)

    async def _serve(self) -> None:
        try:
            await self._server.serve(sockets=self._sockets)
        except SystemExit as exc:
            # uvicorn exits the process when it cannot bind; one session must not do that.
            raise WardenError("server could not start (see the log for the bind error)") from exc

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful with ``port=0``)."""
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise WardenError("server is not listening on TCP")

    async def close(self) -> None:
        """Stop accepting, let requests finish (briefly), and wait for the task."""
        if self._task is None:
            return
        self._server.should_exit = True
        # Streams of a closing session must not hold its shutdown for long.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_GRACE_SECONDS):
                await self._app.drain()
        self._app.cut_short()
        with contextlib.suppress(asyncio.CancelledError, WardenError):
            await self._task
        self._task = None
