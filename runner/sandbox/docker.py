"""``DockerBackend``: session sandboxes as hardened Docker containers (docker-py).

docker-py is blocking: every call runs in a worker thread. The attach stream is read
by a dedicated thread that feeds an asyncio queue. Docker's errors are translated
here into ``SandboxError`` and its subclasses, so nothing above sees docker-py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import docker.utils.socket

from runner.errors import (
    ImageNotFoundError,
    InvalidInputError,
    SandboxError,
    SandboxNotFoundError,
)
from runner.sandbox import files
from runner.sandbox.backend import (
    GATEWAY_PORT,
    SESSION_LABEL,
    ExecResult,
    ImageInfo,
    SandboxInfo,
    SandboxSpec,
    TerminalStream,
)
from runner.sandbox.hardening import container_config
from runner.sandbox.profiles import build_hint
from runner.sandbox.runtimes import runtime_unavailable
from runner.sandbox.stream import QueuedStream

T = TypeVar("T")

_READ_SIZE = 65536
#: Blocking docker-py calls get their own threads, so many sessions' exec calls never
#: starve the event loop's default executor (which the rest of the controller uses).
_WORKERS = 32
#: How long ``docker info``'s runtime list is trusted before it is read again.
_RUNTIMES_TTL = 30.0


class DockerBackend:
    """Implements ``SandboxBackend`` against the local Docker daemon."""

    def __init__(
        self, client: docker.DockerClient | None = None, *, gateway_port: int = GATEWAY_PORT
    ) -> None:
        self._client = client
        self._connecting = threading.Lock()
        self._port = gateway_port
        self._pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="docker")
        self._runtimes: tuple[float, frozenset[str]] | None = None

    @classmethod
    def from_env(cls) -> DockerBackend:
        """A backend for the daemon named by ``DOCKER_HOST`` (default: the local socket).

        It connects on first use and again after a failed connect, so a controller whose
        daemon is not reachable (yet) still starts, answers ``/v1/health`` with the
        sandbox check failing, and refuses sessions until the daemon answers.
        """
        return cls(None)

    async def image(self, reference: str) -> ImageInfo:
        try:
            attrs = await self._call(None, lambda c: c.api.inspect_image(reference))
        except ImageNotFoundError as exc:
            raise ImageNotFoundError(
                f"sandbox image {reference} is not on this Docker engine; {build_hint(reference)}",
                details={"image": reference},
            ) from exc
        except SandboxError as exc:
            cause = exc.__cause__
            if isinstance(cause, docker.errors.APIError) and cause.status_code == 400:
                raise InvalidInputError(
                    f"{reference!r} is not an image reference", details={"image": reference}
                ) from exc
            raise
        return ImageInfo(
            reference=reference,
            id=str(attrs["Id"]),
            repo_digests=tuple(str(d) for d in attrs.get("RepoDigests") or ()),
        )

    async def create(self, spec: SandboxSpec) -> SandboxInfo:
        config = container_config(spec, port=self._port)
        try:
            container = await self._call(None, lambda c: c.containers.create(**config))
        except SandboxError as exc:
            # Unregistered since admission: say so (Docker never falls back to runc).
            if spec.runtime and "Unknown runtime" in exc.message:
                have = await self.runtimes(fresh=True)
                raise runtime_unavailable(spec.runtime, have) from exc
            raise
        return _info(container.attrs)

    async def start(self, sandbox_id: str) -> None:
        await self._call(sandbox_id, lambda c: c.api.start(sandbox_id))

    async def attach(self, sandbox_id: str) -> TerminalStream:
        """Connect to the TTY; output flows from the moment this returns."""
        params = {"stdout": 1, "stderr": 1, "stream": 1, "logs": 0}
        sock = await self._call(sandbox_id, lambda c: c.api.attach_socket(sandbox_id, params))
        return _AttachStream(sock, asyncio.get_running_loop(), sandbox_id)

    async def exec(
        self, sandbox_id: str, argv: Sequence[str], *, user: str | None = None
    ) -> ExecResult:
        return await self._call(sandbox_id, lambda c: _exec_sync(c, sandbox_id, list(argv), user))

    @property
    def shares_files(self) -> bool:
        """The home and workspace are bind mounts of the spec's host directories."""
        return True

    async def read_file(self, sandbox_id: str, path: str, *, offset: int = 0) -> bytes | None:
        argv = files.read_file_argv(path, offset)
        code, out, err = await self._call(sandbox_id, lambda c: _exec_bytes(c, sandbox_id, argv))
        return files.read_outcome(path, code, out, err)

    async def archive(self, sandbox_id: str, path: str, dest: Path, *, limit: int) -> None:
        argv = files.archive_argv(path)
        await self._call(sandbox_id, lambda c: _exec_to_file(c, sandbox_id, argv, dest, limit))

    async def resize(self, sandbox_id: str, cols: int, rows: int) -> None:
        await self._call(sandbox_id, lambda c: c.api.resize(sandbox_id, height=rows, width=cols))

    async def stop(self, sandbox_id: str, *, grace_seconds: float = 10.0) -> None:
        await self._call(sandbox_id, lambda c: c.api.stop(sandbox_id, timeout=int(grace_seconds)))

    async def remove(self, sandbox_id: str) -> None:
        try:
            await self._call(
                sandbox_id, lambda c: c.api.remove_container(sandbox_id, force=True, v=True)
            )
        except SandboxNotFoundError:
            pass  # already gone: that is what we wanted
        except SandboxError as exc:
            if "already in progress" not in exc.message:
                raise

    async def list(self, labels: Mapping[str, str]) -> list[SandboxInfo]:
        wanted = [SESSION_LABEL, *(f"{k}={v}" for k, v in labels.items())]
        rows = await self._call(
            None, lambda c: c.api.containers(all=True, filters={"label": wanted})
        )
        ids = [str(row["Id"]) for row in rows]
        infos = []
        for sandbox_id in ids:
            with contextlib.suppress(SandboxNotFoundError):  # removed meanwhile
                infos.append(await self.inspect(sandbox_id))
        return infos

    async def inspect(self, sandbox_id: str) -> SandboxInfo:
        attrs = await self._call(sandbox_id, lambda c: c.api.inspect_container(sandbox_id))
        return _info(attrs)

    async def runtimes(self, *, fresh: bool = False) -> frozenset[str]:
        cached = self._runtimes
        if fresh or cached is None or time.monotonic() - cached[0] > _RUNTIMES_TTL:
            info = await self._call(None, lambda c: c.info())
            cached = (time.monotonic(), frozenset((info.get("Runtimes") or {}).keys()))
            self._runtimes = cached
        return cached[1]

    async def close(self) -> None:
        if self._client is not None:
            await self._call(None, lambda c: c.close())
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _connected(self) -> docker.DockerClient:
        """The client, connecting first if needed (in a worker thread: it blocks)."""
        with self._connecting:
            if self._client is None:
                try:
                    self._client = docker.from_env()  # asks the daemon for its API version
                except docker.errors.DockerException as exc:
                    raise SandboxError(f"cannot reach the Docker daemon: {exc}") from exc
            return self._client

    async def _call(self, sandbox_id: str | None, fn: Callable[[docker.DockerClient], T]) -> T:
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, lambda: fn(self._connected()))
        except docker.errors.ImageNotFound as exc:
            raise ImageNotFoundError(
                f"sandbox image not found: {exc.explanation or exc}; run: warden image build"
            ) from exc
        except docker.errors.NotFound as exc:
            raise SandboxNotFoundError(
                f"sandbox {sandbox_id or ''} not found", details={"sandbox": sandbox_id}
            ) from exc
        except docker.errors.DockerException as exc:
            message = getattr(exc, "explanation", None) or str(exc)
            raise SandboxError(
                f"container runtime error: {message}", details={"sandbox": sandbox_id}
            ) from exc


def _exec_sync(
    client: docker.DockerClient, sandbox_id: str, argv: Sequence[str], user: str | None
) -> ExecResult:
    api = client.api
    created = api.exec_create(sandbox_id, list(argv), stdout=True, stderr=True, user=user or "")
    out, err = api.exec_start(created["Id"], demux=True)
    code = api.exec_inspect(created["Id"]).get("ExitCode")
    return ExecResult(
        exit_code=-1 if code is None else int(code),
        stdout=(out or b"").decode("utf-8", "replace"),
        stderr=(err or b"").decode("utf-8", "replace"),
    )


def _exec_bytes(
    client: docker.DockerClient, sandbox_id: str, argv: Sequence[str]
) -> tuple[int, bytes, bytes]:
    api = client.api
    created = api.exec_create(sandbox_id, list(argv), stdout=True, stderr=True)
    out, err = api.exec_start(created["Id"], demux=True)
    code = api.exec_inspect(created["Id"]).get("ExitCode")
    return (-1 if code is None else int(code)), out or b"", err or b""


def _exec_to_file(
    client: docker.DockerClient, sandbox_id: str, argv: Sequence[str], dest: Path, limit: int
) -> None:
    """Run ``argv`` (a tar) and stream its stdout into ``dest``, at most ``limit`` bytes."""
    api = client.api
    created = api.exec_create(sandbox_id, list(argv), stdout=True, stderr=True)
    err, size = b"", 0
    with dest.open("wb") as out:
        for chunk_out, chunk_err in api.exec_start(created["Id"], stream=True, demux=True):
            size += len(chunk_out or b"")
            if size > limit:
                raise files.too_large(argv[-2], limit)
            out.write(chunk_out or b"")
            err = (err + (chunk_err or b""))[-4096:]
    code = api.exec_inspect(created["Id"]).get("ExitCode")
    if code != 0:
        raise files.archive_failed(argv[-2], -1 if code is None else int(code), err)


class _AttachStream(QueuedStream):
    """A connected attach socket, read by a dedicated thread into the queue."""

    def __init__(self, sock: Any, loop: asyncio.AbstractEventLoop, sandbox_id: str) -> None:
        super().__init__()
        self._sock = sock
        self._raw: socket.socket = getattr(sock, "_sock", sock)
        # The client's request timeout would end a quiet session's stream: wait forever.
        self._raw.settimeout(None)
        threading.Thread(
            target=_pump,
            args=(sock, loop, self.put),
            name=f"attach-{sandbox_id[:12]}",
            daemon=True,
        ).start()

    async def aclose(self) -> None:
        # Wakes the reader thread (blocked in recv) so it ends too.
        with contextlib.suppress(OSError):
            self._raw.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._sock.close()


def _pump(sock: Any, loop: asyncio.AbstractEventLoop, put: Callable[[bytes | None], None]) -> None:
    """Thread body: copy the attach socket into the stream until EOF or close."""
    try:
        while data := docker.utils.socket.read(sock, _READ_SIZE):
            loop.call_soon_threadsafe(put, data)
    except (OSError, ValueError):
        pass  # closed by the consumer, or the daemon went away: the stream ends
    finally:
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(put, None)


def _info(attrs: Mapping[str, Any]) -> SandboxInfo:
    labels = dict((attrs.get("Config") or {}).get("Labels") or {})
    state = attrs.get("State") or {}
    status = str(state.get("Status", "unknown"))
    exit_code = state.get("ExitCode") if status in ("exited", "dead") else None
    return SandboxInfo(
        id=str(attrs["Id"]),
        session_id=labels.get(SESSION_LABEL, ""),
        status=status,
        exit_code=None if exit_code is None else int(exit_code),
        labels=labels,
    )
