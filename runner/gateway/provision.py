"""What a session Pod fetches from its gateway before the agent starts: its workspace and
its home, each as a tar stream of the controller's prepared directory.

The Pod's init container (``images/sandbox/warden-provision``) asks for both with the
session token and unpacks them into its own volumes. Every workspace source (a host
path, an upload, a git clone) ends in such a directory, so every source works. Only
directories, regular files and symbolic links (as links) are sent; the walk never
follows a link.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import io
import logging
import os
import tarfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from runner.gateway.anthropic_errors import error_response
from runner.gateway.mux import presented_token

log = logging.getLogger(__name__)

#: URL prefix of the provisioning routes on the gateway port.
PREFIX = "/v1/sandbox"
_CHUNK = 256 * 1024
#: A Pod that stops reading for this long has gone: the tar thread gives up.
_STALL_SECONDS = 120.0


_END = object()
_Item = bytes | Exception | object


class _QueueWriter(io.RawIOBase):
    """A file the tar thread writes into; the response reads the chunks on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[_Item]):
        self._loop, self._queue = loop, queue

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        chunk = bytes(data)
        put = asyncio.run_coroutine_threadsafe(self._queue.put(chunk), self._loop)
        put.result(_STALL_SECONDS)  # back-pressure: at most a few chunks in memory
        return len(chunk)

    def end(self, failure: Exception | None) -> None:
        """No more chunks (from the thread); ``failure`` if the tar is incomplete."""
        put = asyncio.run_coroutine_threadsafe(self._queue.put(failure or _END), self._loop)
        put.result(_STALL_SECONDS)


def _add_tree(tar: tarfile.TarFile, root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames.sort()
        for name in (*dirnames, *sorted(filenames)):
            path = here / name
            if not (path.is_symlink() or path.is_dir() or path.is_file()):
                continue  # sockets, fifos, devices: nothing a workspace needs
            info = tar.gettarinfo(str(path), arcname=path.relative_to(root).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)


def _write_tar(root: Path, out: _QueueWriter) -> None:
    failure: Exception | None = None
    try:
        with tarfile.open(fileobj=out, mode="w|", bufsize=_CHUNK) as tar:
            _add_tree(tar, root)
    except Exception as exc:
        log.exception("streaming %s to a session Pod failed", root)
        failure = exc
    with contextlib.suppress(Exception):
        out.end(failure)


async def tar_stream(root: Path) -> AsyncIterator[bytes]:
    """An uncompressed tar of ``root``'s contents, made by a thread as it is read.

    Raises:
        OSError: the tar could not be completed. Raised mid-response, it cuts the
            connection without the last chunk: the Pod's ``curl`` fails and the init
            container with it, rather than starting on half a workspace.
    """
    queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=4)
    writer = _QueueWriter(asyncio.get_running_loop(), queue)
    threading.Thread(target=_write_tar, args=(root, writer), daemon=True).start()
    while (item := await queue.get()) is not _END:
        if isinstance(item, Exception):
            raise OSError(f"the tar of {root} is incomplete: {item}") from item
        assert isinstance(item, bytes)
        yield item


def provision_app(token: str, *, workspace: Path, home: Path) -> Starlette:
    """``GET /workspace.tar`` and ``GET /home.tar`` for the session holding ``token``."""
    expected = token.encode()

    def handler(root: Path) -> object:
        async def serve(request: Request) -> Response:
            # The mux routed by this token already; checked again so the app is safe alone.
            presented = presented_token(list(request.scope.get("headers") or [])).encode()
            if not (presented and hmac.compare_digest(presented, expected)):
                return error_response(401, "invalid or missing session token (x-api-key)")
            if not await asyncio.to_thread(root.is_dir):
                return error_response(404, f"the session has no {root.name} to provision")
            return StreamingResponse(tar_stream(root), media_type="application/x-tar")

        return serve

    return Starlette(
        routes=[
            Route("/workspace.tar", handler(workspace), methods=["GET"]),  # type: ignore[arg-type]
            Route("/home.tar", handler(home), methods=["GET"]),  # type: ignore[arg-type]
        ]
    )


def session_app(gateway: ASGIApp, provision: ASGIApp) -> Starlette:
    """The app a session's token reaches on the gateway port: provisioning, then the
    gateway itself (model calls and hook decisions)."""
    return Starlette(routes=[Mount(PREFIX, app=provision), Mount("/", app=gateway)])
