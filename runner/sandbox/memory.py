"""``MemoryBackend``: sandboxes that live in this process, for tests and offline wiring.

It implements ``SandboxBackend`` honestly: containers have ids, labels and a status;
``attach`` streams only what is written after it connected (as Docker's attach does);
``exec`` calls are recorded and answered by a program the caller plugs in. What runs
"inside" is whatever writes to :meth:`MemoryBackend.write` — in tests, a stand-in for
Claude Code that paints its screens.

Its files are the spec's host directories (``shares_files``, as with Docker), or, given
``files_root``, a private copy of them per sandbox that only ``read_file`` and
``archive`` reach (as on Kubernetes, where the Pod's volumes are its own).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import shutil
import tarfile
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runner.errors import ImageNotFoundError, SandboxError, SandboxNotFoundError
from runner.sandbox import files
from runner.sandbox.backend import (
    READ_LIMIT,
    SANDBOX_HOME,
    SANDBOX_WORKSPACE,
    SESSION_LABEL,
    ExecResult,
    ImageInfo,
    SandboxInfo,
    SandboxSpec,
)
from runner.sandbox.runtimes import runtime_unavailable
from runner.sandbox.stream import QueuedStream


@dataclass(frozen=True)
class ExecCall:
    """One ``exec`` into a sandbox, as recorded."""

    sandbox_id: str
    argv: tuple[str, ...]
    user: str | None


#: Answers an exec: gets the sandbox and the call, returns the result (or awaits it).
ExecProgram = Callable[["MemorySandbox", ExecCall], ExecResult | Awaitable[ExecResult]]


def _succeed(_sandbox: MemorySandbox, _call: ExecCall) -> ExecResult:
    return ExecResult(0, "", "")


@dataclass
class MemorySandbox:
    """One in-memory container."""

    id: str
    spec: SandboxSpec
    labels: dict[str, str]
    status: str = "created"
    exit_code: int | None = None
    size: tuple[int, int] = (0, 0)
    resizes: list[tuple[int, int]] = field(default_factory=list)
    streams: list[_MemoryStream] = field(default_factory=list)
    #: Its filesystem: where each mount point (home, workspace) is on the host.
    mounts: dict[str, Path] = field(default_factory=dict)

    def path_of(self, path: str) -> Path | None:
        """The host file behind ``path`` inside the sandbox (None: outside its mounts)."""
        for mount, host in self.mounts.items():
            if path == mount or path.startswith(mount + "/"):
                return host / path[len(mount) :].lstrip("/")
        return None

    def info(self) -> SandboxInfo:
        return SandboxInfo(
            id=self.id,
            session_id=self.labels.get(SESSION_LABEL, ""),
            status=self.status,
            exit_code=self.exit_code,
            labels=dict(self.labels),
        )


class _MemoryStream(QueuedStream):
    """What one attach sees: chunks written after it connected, then the end."""

    def __init__(self, owner: MemorySandbox) -> None:
        super().__init__()
        self._owner = owner

    async def aclose(self) -> None:
        if self in self._owner.streams:
            self._owner.streams.remove(self)


class MemoryBackend:
    """Implements ``SandboxBackend`` in memory; see the module docstring."""

    def __init__(
        self,
        *,
        program: ExecProgram = _succeed,
        images: frozenset[str] | None = None,
        files_root: Path | None = None,
        runtimes: frozenset[str] = frozenset({"runc", "runsc"}),
    ) -> None:
        self.program = program
        self.images = images  # None: every image exists
        self._files_root = files_root
        self.runtimes_registered = runtimes  # what the "engine" has; runc is the default
        self.sandboxes: dict[str, MemorySandbox] = {}
        self.execs: list[ExecCall] = []
        #: What runs inside reacts to these (a real TTY program repaints on a resize).
        self.on_start: Callable[[MemorySandbox], None] | None = None
        self.on_resize: Callable[[MemorySandbox], None] | None = None
        self.is_closed = False

    # -- what runs inside ------------------------------------------------------------

    def write(self, sandbox_id: str, data: bytes) -> None:
        """Terminal output of the sandbox: every connected attach stream receives it."""
        for stream in list(self._get(sandbox_id).streams):
            stream.put(data)

    def exit(self, sandbox_id: str, code: int = 0) -> None:
        """The sandbox's main process ended: streams end, the status is ``exited``."""
        sandbox = self._get(sandbox_id)
        sandbox.status, sandbox.exit_code = "exited", code
        for stream in list(sandbox.streams):
            stream.put(None)

    # -- SandboxBackend --------------------------------------------------------------

    @staticmethod
    def image_id(name: str) -> str:
        """The id the in-memory engine gives the image named ``name``."""
        return "sha256:" + hashlib.sha256(name.encode()).hexdigest()

    async def image(self, reference: str) -> ImageInfo:
        if not self._has_image(reference):
            raise ImageNotFoundError(f"sandbox image {reference} is not on this engine")
        if reference.startswith("sha256:"):
            return ImageInfo(reference, reference)
        return ImageInfo(reference, self.image_id(reference))

    def _has_image(self, reference: str) -> bool:
        if self.images is None:
            return True
        return reference in self.images or reference in {self.image_id(i) for i in self.images}

    async def create(self, spec: SandboxSpec) -> SandboxInfo:
        if not self._has_image(spec.image):
            raise ImageNotFoundError(
                f"sandbox image not found: {spec.image}; run: warden image build"
            )
        if spec.runtime and spec.runtime not in self.runtimes_registered:
            raise runtime_unavailable(spec.runtime, self.runtimes_registered)
        labels = {**spec.labels, SESSION_LABEL: spec.session_id}
        sandbox = MemorySandbox(uuid.uuid4().hex, spec, labels, size=(spec.cols, spec.rows))
        sandbox.mounts = {SANDBOX_HOME: spec.home_dir, SANDBOX_WORKSPACE: spec.workspace}
        if self._files_root is not None:
            # Its own copy, placed at create as an init container would.
            own = self._files_root / sandbox.id
            for mount, host in sandbox.mounts.items():
                shutil.copytree(host, own / mount.strip("/"), symlinks=True)
            sandbox.mounts = {m: own / m.strip("/") for m in sandbox.mounts}
        self.sandboxes[sandbox.id] = sandbox
        return sandbox.info()

    async def start(self, sandbox_id: str) -> None:
        sandbox = self._get(sandbox_id)
        if sandbox.status == "running":
            return
        sandbox.status = "running"
        if self.on_start is not None:
            self.on_start(sandbox)

    async def attach(self, sandbox_id: str) -> _MemoryStream:
        sandbox = self._get(sandbox_id)
        stream = _MemoryStream(sandbox)
        if sandbox.status in ("exited", "dead"):
            stream.put(None)
        else:
            sandbox.streams.append(stream)
        return stream

    async def exec(
        self, sandbox_id: str, argv: Sequence[str], *, user: str | None = None
    ) -> ExecResult:
        sandbox = self._running(sandbox_id)
        call = ExecCall(sandbox_id, tuple(argv), user)
        self.execs.append(call)
        result = self.program(sandbox, call)
        return await result if inspect.isawaitable(result) else result

    @property
    def shares_files(self) -> bool:
        return self._files_root is None

    async def read_file(self, sandbox_id: str, path: str, *, offset: int = 0) -> bytes | None:
        host = self._running(sandbox_id).path_of(path)
        files.read_file_argv(path, offset)  # the same argument checks as the real ones
        return None if host is None else await asyncio.to_thread(_read, host, offset)

    async def archive(self, sandbox_id: str, path: str, dest: Path, *, limit: int) -> None:
        host = self._running(sandbox_id).path_of(path)
        await asyncio.to_thread(_tar, path, host, dest, limit)

    async def resize(self, sandbox_id: str, cols: int, rows: int) -> None:
        sandbox = self._get(sandbox_id)
        changed = sandbox.size != (cols, rows)
        sandbox.size = (cols, rows)
        sandbox.resizes.append((cols, rows))
        if changed and sandbox.status == "running" and self.on_resize is not None:
            self.on_resize(sandbox)

    async def stop(self, sandbox_id: str, *, grace_seconds: float = 10.0) -> None:
        self.exit(sandbox_id, 143)

    async def remove(self, sandbox_id: str) -> None:
        sandbox = self.sandboxes.pop(sandbox_id, None)
        if sandbox is not None:
            for stream in list(sandbox.streams):
                stream.put(None)
        if self._files_root is not None:
            shutil.rmtree(self._files_root / sandbox_id, ignore_errors=True)

    async def list(self, labels: Mapping[str, str]) -> list[SandboxInfo]:
        return [
            s.info()
            for s in self.sandboxes.values()
            if all(s.labels.get(k) == v for k, v in labels.items())
        ]

    async def inspect(self, sandbox_id: str) -> SandboxInfo:
        return self._get(sandbox_id).info()

    async def runtimes(self, *, fresh: bool = False) -> frozenset[str]:
        return self.runtimes_registered

    async def close(self) -> None:
        self.is_closed = True

    def _running(self, sandbox_id: str) -> MemorySandbox:
        sandbox = self._get(sandbox_id)
        if sandbox.status != "running":
            raise SandboxError(f"container {sandbox_id} is not running")
        return sandbox

    def _get(self, sandbox_id: str) -> MemorySandbox:
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is None:
            raise SandboxNotFoundError(
                f"sandbox {sandbox_id} not found", details={"sandbox": sandbox_id}
            )
        return sandbox


def _read(host: Path, offset: int) -> bytes | None:
    if not host.is_file():
        return None
    with host.open("rb") as fh:
        fh.seek(offset)
        return fh.read(READ_LIMIT)


def _tar(path: str, host: Path | None, dest: Path, limit: int) -> None:
    if host is None or not host.is_dir():
        raise files.archive_failed(path, 2, b"Cannot open: No such file or directory")
    with tarfile.open(dest, "w") as tar:
        tar.add(host, arcname=".")
    if dest.stat().st_size > limit:
        dest.unlink()
        raise files.too_large(path, limit)
