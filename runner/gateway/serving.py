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
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            uds=uds,
            lifespan="off",
            log_level="warning",
            access_log=False,
            # Streams of a closing session must not hold its shutdown for long.
            timeout_graceful_shutdown=2,
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
        with contextlib.suppress(asyncio.CancelledError, WardenError):
            await self._task
        self._task = None
