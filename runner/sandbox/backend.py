"""The ``SandboxBackend`` protocol: what the session layer needs from a container runtime.

Adapters: ``runner.sandbox.docker.DockerBackend`` (default),
``runner.sandbox.kubernetes.KubernetesBackend`` (Pods) and
``runner.sandbox.memory.MemoryBackend`` (tests). The session layer only sees these
types, never docker-py or the Kubernetes client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from runner.core import WorkspaceMode

#: Label carrying the session id on every sandbox container.
SESSION_LABEL = "warden.session"
#: On sandboxes started for the warm pool (they keep it once a session claims them).
POOL_LABEL = "warden.pool"

#: Where things are inside the sandbox.
SANDBOX_HOME = "/home/warden"
SANDBOX_WORKSPACE = "/workspace"
SANDBOX_RUN_DIR = "/run/warden"
#: Loopback port of the in-container forwarder to the gateway socket.
GATEWAY_PORT = 8787
#: The most ``read_file`` returns at once (a transcript is read on in steps).
READ_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class SandboxSpec:
    """Everything needed to create one session's container.

    ``workspace`` is the host directory mounted at /workspace: the session's copy in
    ``copy`` mode, the user's own directory in ``ro``/``rw`` mode. ``run_dir`` holds the
    gateway socket and is mounted at /run/warden. ``token`` is the per-session opaque
    gateway token (never the upstream key). ``claude_session`` must be a UUID.
    """

    session_id: str
    image: str
    workspace: Path
    workspace_mode: WorkspaceMode
    home_dir: Path
    run_dir: Path
    token: str
    claude_session: str
    permission_mode: str = "default"
    model: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cols: int = 120
    rows: int = 40
    cpus: float = 2.0
    memory_bytes: int = 4 * 1024**3
    pids_limit: int = 512
    tmpfs_bytes: int = 512 * 1024**2
    #: What the agent may write (policy ``container.disk``), where the backend caps it
    #: itself (Kubernetes: the Pod's ephemeral-storage limit); None: no cap of its own.
    disk_bytes: int | None = None
    #: None: the engine's default (runc); "runsc": gVisor; or any name registered with it.
    runtime: str | None = None
    #: The session's gateway also serves its egress proxy (the policy allows some egress):
    #: the sandbox gets the proxy variables. False: it gets none, and there is no proxy.
    egress: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None  # "uid:gid"; None: 1000:1000, or the controller's own ids


@dataclass(frozen=True)
class SandboxInfo:
    """A sandbox container as the runtime reports it."""

    id: str
    session_id: str
    status: str  # created | running | paused | restarting | removing | exited | dead
    exit_code: int | None
    labels: Mapping[str, str]

    @property
    def is_running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True)
class ImageInfo:
    """A sandbox image as the runtime resolves a reference to it.

    ``id`` is the image's content digest (``sha256:…``, what ``warden image list`` shows);
    ``repo_digests`` are registry digests (``NAME@sha256:…``) of an image that was pushed
    or pulled. Policies may pin either.
    """

    reference: str
    id: str
    repo_digests: tuple[str, ...] = ()

    @property
    def digests(self) -> tuple[str, ...]:
        return (self.id, *self.repo_digests)

    def audit_fields(self) -> dict[str, object]:
        """What the ledger records about the image a session ran in."""
        return {"imageId": self.id, "imageDigests": list(self.repo_digests)}


@dataclass(frozen=True)
class ExecResult:
    """The outcome of a command run inside a sandbox."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class TerminalStream(Protocol):
    """A connected attach stream: iterate for output chunks; ``aclose`` disconnects."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class SandboxBackend(Protocol):
    """Creates, drives and removes session containers.

    Every method raises ``SandboxNotFoundError`` for an unknown id (except ``remove``,
    which is idempotent) and ``SandboxError`` when the runtime fails.
    """

    @property
    def shares_files(self) -> bool:
        """True when the sandbox's home and workspace *are* the spec's host directories
        (bind mounts): the controller reads what the agent wrote there directly. False
        (Kubernetes): they exist only inside the sandbox; read them with ``read_file``
        and ``archive``."""
        ...

    async def read_file(self, sandbox_id: str, path: str, *, offset: int = 0) -> bytes | None:
        """The bytes of the file ``path`` inside the sandbox from ``offset`` on (at most
        ``READ_LIMIT``); None when there is no such regular file. The sandbox must run."""
        ...

    async def archive(self, sandbox_id: str, path: str, dest: Path, *, limit: int) -> None:
        """Write an uncompressed tar of the directory ``path`` inside the sandbox, members
        relative to it, to the host file ``dest``. The sandbox must run.

        Raises:
            SandboxError: the tar failed, or grew past ``limit`` bytes.
        """
        ...

    async def image(self, reference: str) -> ImageInfo:
        """Resolve an image reference to the image it names now. Raises ImageNotFoundError."""
        ...

    async def create(self, spec: SandboxSpec) -> SandboxInfo:
        """Create (not start) the hardened container. Raises ImageNotFoundError."""
        ...

    async def start(self, sandbox_id: str) -> None: ...

    async def attach(self, sandbox_id: str) -> TerminalStream:
        """Connect to the container's terminal; returns once connected.

        The stream carries raw output from that moment on and ends when the container
        stops. Attached before ``start``, it carries everything the container prints.
        """
        ...

    async def exec(
        self, sandbox_id: str, argv: Sequence[str], *, user: str | None = None
    ) -> ExecResult: ...

    async def resize(self, sandbox_id: str, cols: int, rows: int) -> None: ...

    async def stop(self, sandbox_id: str, *, grace_seconds: float = 10.0) -> None: ...

    async def remove(self, sandbox_id: str) -> None:
        """Force-remove the container; a missing one is not an error."""
        ...

    async def list(self, labels: Mapping[str, str]) -> list[SandboxInfo]:
        """Every sandbox (running or not) carrying all of ``labels``."""
        ...

    async def inspect(self, sandbox_id: str) -> SandboxInfo: ...

    async def runtimes(self, *, fresh: bool = False) -> frozenset[str] | None:
        """Names of the container runtimes the engine has (cached; ``fresh`` re-reads), or
        None when the backend cannot tell before creating (it then refuses at creation)."""
        ...

    async def close(self) -> None:
        """Release the runtime client; containers keep running."""
        ...
