"""A kubelet for the stand-in API server that runs each Pod as local processes.

A Pod's volumes are directories under a root of its own; exec'd argv have their
in-Pod paths (``/workspace/…``, ``/home/warden/…``, ``/tmp/…``) mapped to them, so the
backend's ``touch``, ``tail`` and ``tar`` run for real on the Pod's files. The sandbox
container's TTY is a real pseudo-terminal running ``screen`` (a test's program); a
resize sets its window size, as the kubelet's runtime does. The init container is
stood in for by ``place`` (a function of the test), since its command is the image's.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import shutil
import signal
import struct
import termios
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.kube.api import STDERR, STDOUT, Cluster

#: Places a Pod's files as its init container would: gets the Pod and its path mapper.
Place = Callable[[Mapping[str, Any], Callable[[str], Path]], None]


@dataclass
class _Pod:
    manifest: Mapping[str, Any]
    root: Path
    mounts: dict[str, Path]
    pid: int = 0
    fd: int = -1
    viewers: list[asyncio.Queue[bytes | None]] = field(default_factory=list)

    def host_path(self, path: str) -> Path:
        for mount, host in sorted(self.mounts.items(), key=lambda m: -len(m[0])):
            if path == mount or path.startswith(mount.rstrip("/") + "/"):
                return host / path[len(mount) :].lstrip("/")
        raise LookupError(f"{path} is not in a volume of the Pod")

    def map_arg(self, arg: str) -> str:
        with contextlib.suppress(LookupError):
            if arg.startswith("/"):
                return str(self.host_path(arg))
        return arg


class _Exec:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()

        async def read(stream: asyncio.StreamReader | None, channel: int) -> None:
            while stream is not None and (chunk := await stream.read(65536)):
                await queue.put((channel, chunk))
            await queue.put(None)

        readers = [asyncio.create_task(read(self._proc.stdout, STDOUT)),
                   asyncio.create_task(read(self._proc.stderr, STDERR))]  # fmt: skip
        ended = 0
        while ended < len(readers):
            item = await queue.get()
            if item is None:
                ended += 1
            else:
                yield item

    async def wait(self) -> int:
        return await self._proc.wait()


class _Attach:
    def __init__(self, pod: _Pod) -> None:
        self._pod = pod
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        pod.viewers.append(self._queue)

    async def output(self) -> AsyncIterator[bytes]:
        while (chunk := await self._queue.get()) is not None:
            yield chunk

    async def resize(self, cols: int, rows: int) -> None:
        fcntl.ioctl(self._pod.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    async def close(self) -> None:
        if self._queue in self._pod.viewers:
            self._pod.viewers.remove(self._queue)


class LocalKubelet:
    """Runs Pods as local processes under ``root`` (see the module docstring)."""

    def __init__(
        self, root: Path, screen: list[str], *, place: Place | None = None, init_exit: int = 0
    ) -> None:
        self._root = root
        self._screen = screen
        self._place = place
        self._init_exit = init_exit
        self.pods: dict[str, _Pod] = {}

    async def run(self, pod: Mapping[str, Any], cluster: Cluster) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        name, ns = meta["name"], meta["namespace"]
        root = self._root / name
        volumes = {v["name"]: root / "volumes" / v["name"] for v in spec.get("volumes", [])}
        for path in volumes.values():
            path.mkdir(parents=True, exist_ok=True)
        sandbox = spec["containers"][0]
        mounts = {m["mountPath"]: volumes[m["name"]] for m in sandbox.get("volumeMounts", [])}
        running = self.pods[name] = _Pod(pod, root, mounts)
        if self._place is not None:
            self._place(pod, running.host_path)
        init = {"name": "workspace", "state": {"terminated": {"exitCode": self._init_exit}}}
        if self._init_exit:
            cluster.set_status(ns, name, {"phase": "Failed", "initContainerStatuses": [init]})
            return
        env = {e["name"]: running.map_arg(e["value"]) for e in sandbox.get("env", [])}
        running.pid, running.fd = _spawn(self._screen, running.host_path("/workspace"), env)
        asyncio.get_running_loop().add_reader(running.fd, self._output, running)
        cluster.set_status(ns, name, {
            "phase": "Running",
            "initContainerStatuses": [init],
            "containerStatuses": [{"name": "sandbox", "state": {"running": {}}}],
        })  # fmt: skip

    def _output(self, pod: _Pod) -> None:
        try:
            data = os.read(pod.fd, 65536)
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(pod.fd)
        for viewer in pod.viewers:
            viewer.put_nowait(data or None)

    def _pod(self, name: str, container: str) -> _Pod:
        pod = self.pods.get(name)
        if pod is None or pod.pid == 0 or container != "sandbox":
            raise LookupError(f"container {container!r} of {name} is not running")
        return pod

    async def exec(self, name: str, container: str, argv: list[str]) -> _Exec:
        pod = self._pod(name, container)
        proc = await asyncio.create_subprocess_exec(
            *[pod.map_arg(a) for a in argv],
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=pod.host_path("/workspace"),
        )
        return _Exec(proc)

    async def attach(self, name: str, container: str) -> _Attach:
        return _Attach(self._pod(name, container))

    async def delete(self, name: str, grace: int) -> None:
        pod = self.pods.pop(name, None)
        if pod is None:
            return
        if pod.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pod.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                await asyncio.to_thread(os.waitpid, pod.pid, 0)
            asyncio.get_running_loop().remove_reader(pod.fd)
            os.close(pod.fd)
        for viewer in pod.viewers:
            viewer.put_nowait(None)
        shutil.rmtree(pod.root, ignore_errors=True)

    async def logs(self, name: str, container: str) -> str:
        return f"warden-provision: fetching the workspace failed (exit {self._init_exit})\n"


def _spawn(argv: list[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: the "container's" main process on the pty
        os.chdir(cwd)
        os.execvpe(argv[0], argv, {"PATH": os.environ.get("PATH", ""), **env})  # noqa: S606
    return pid, fd
