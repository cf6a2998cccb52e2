"""Exec and attach into a session Pod over the Kubernetes WebSocket channel protocol.

The API server upgrades ``pods/exec`` and ``pods/attach`` to a WebSocket whose binary
frames start with a channel byte (``v4.channel.k8s.io``/``v5.channel.k8s.io``): 1 is
stdout, 2 stderr, 3 the exec's status as JSON (``Success``, or ``Failure`` with the exit
code as the ``ExitCode`` cause), 4 carries resize messages to the server. The official
client's ``WSClient`` speaks it; these functions are blocking (run them in threads).

``kubernetes.stream.stream`` swaps ``call_api`` on the ApiClient it is given while it
connects, so every connection here gets an ApiClient of its own: a REST call on the
shared one in another thread can never be sent down a WebSocket (or the reverse).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from kubernetes import client as k8s
from kubernetes.stream import stream as k8s_stream
from kubernetes.stream.ws_client import ERROR_CHANNEL, RESIZE_CHANNEL
from websocket import WebSocketException

from runner.errors import SandboxError
from runner.sandbox.stream import QueuedStream

STDOUT, STDERR = 1, 2
#: An exec (tmux send-keys, cat, tar) that takes longer than this has hung.
EXEC_SECONDS = 600.0


def _connect(
    configuration: k8s.Configuration, kind: str, name: str, namespace: str, **params: Any
) -> Any:
    api = k8s.CoreV1Api(k8s.ApiClient(configuration))
    method = (
        api.connect_get_namespaced_pod_exec
        if kind == "exec"
        else api.connect_get_namespaced_pod_attach
    )
    try:
        ws: Any = k8s_stream(method, name, namespace, _preload_content=False, binary=True, **params)
    finally:
        api.api_client.close()
    return ws


def exec_status(raw: bytes) -> tuple[int, str]:
    """The exit code and message in channel 3's status (-1: the command did not run)."""
    try:
        status = json.loads(raw)
    except ValueError:
        return -1, raw.decode("utf-8", "replace")
    if not isinstance(status, dict):
        return -1, str(status)
    if status.get("status") == "Success":
        return 0, ""
    causes = (status.get("details") or {}).get("causes") or []
    for cause in causes:
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            with contextlib.suppress(TypeError, ValueError):
                return int(str(cause.get("message"))), str(status.get("message", ""))
    return -1, str(status.get("message") or "the command could not be run")


def run_exec(
    configuration: k8s.Configuration,
    name: str,
    namespace: str,
    container: str,
    argv: list[str],
    *,
    stdout: IO[bytes] | None = None,
    limit: int | None = None,
) -> tuple[int, bytes, bytes]:
    """Run ``argv`` in the container: exit code, stdout (unless streamed to ``stdout``),
    stderr (its last 64 KiB).

    Raises:
        SandboxError: the exec did not finish within ``EXEC_SECONDS``, its connection
            dropped before the status came, or ``stdout`` grew past ``limit``.
    """
    ws: Any = _connect(
        configuration, "exec", name, namespace,
        command=argv, container=container, stdin=False, stdout=True, stderr=True, tty=False,
    )  # fmt: skip
    out, err, status = bytearray(), bytearray(), bytearray()
    written = 0
    deadline = time.monotonic() + EXEC_SECONDS
    try:
        while ws.is_open():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxError(
                    f"exec {argv[0]} in {name} did not finish", details={"pod": name}
                )
            ws.update(timeout=min(remaining, 5.0))
            chunk = ws.read_channel(STDOUT)
            if chunk and stdout is not None:
                written += len(chunk)
                if limit is not None and written > limit:
                    raise SandboxError(
                        f"the output of {argv[0]} in {name} is larger than {limit} bytes",
                        details={"pod": name, "limit": limit},
                    )
                stdout.write(chunk)
            elif chunk:
                out += chunk
            err = (err + ws.read_channel(STDERR))[-65536:]
            status += ws.read_channel(ERROR_CHANNEL)
    except WebSocketException as exc:
        raise SandboxError(f"exec {argv[0]} in {name}: the connection broke: {exc}") from exc
    finally:
        ws.close()
    if not status:
        raise SandboxError(f"exec {argv[0]} in {name} ended without an exit status")
    code, message = exec_status(bytes(status))
    if code == -1 and message:
        err += message.encode()
    return code, bytes(out), bytes(err)


def resize_message(cols: int, rows: int) -> bytes:
    """Channel 4's payload: the terminal size the container's TTY should get."""
    return json.dumps({"Width": cols, "Height": rows}).encode()


class AttachStream(QueuedStream):
    """A connected attach WebSocket, read by a dedicated thread into the queue."""

    def __init__(
        self, ws: Any, loop: asyncio.AbstractEventLoop, name: str, on_close: Callable[[], None]
    ) -> None:
        super().__init__()
        self._ws = ws
        self._on_close = on_close
        self._send = threading.Lock()
        threading.Thread(
            target=self._pump, args=(loop,), name=f"attach-{name[:20]}", daemon=True
        ).start()

    def resize(self, cols: int, rows: int) -> None:
        """Send a resize on channel 4 (blocking; the reader thread keeps reading)."""
        with self._send:
            self._ws.sock.send_binary(bytes([RESIZE_CHANNEL]) + resize_message(cols, rows))

    @property
    def is_open(self) -> bool:
        return bool(self._ws.is_open())

    def _pump(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            while self._ws.is_open():
                self._ws.update(timeout=None)
                data = self._ws.read_channel(STDOUT) + self._ws.read_channel(STDERR)
                if data:
                    loop.call_soon_threadsafe(self.put, data)
        except Exception:  # noqa: S110 (closed by us, or the Pod went away: the stream ends)
            pass
        finally:
            self._on_close()
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(self.put, None)

    async def aclose(self) -> None:
        # shutdown() wakes the reader thread blocked in poll; close() alone would not.
        raw = getattr(self._ws.sock, "sock", None)
        if raw is not None:
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self._ws.close()


def open_attach(configuration: k8s.Configuration, name: str, namespace: str, container: str) -> Any:
    """A ``WSClient`` on the container's TTY (output only: input goes in by exec tmux)."""
    return _connect(
        configuration, "attach", name, namespace,
        container=container, stdin=False, stdout=True, stderr=False, tty=True,
    )  # fmt: skip
