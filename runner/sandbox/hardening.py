"""The hardened container profile of a session sandbox, as plain docker-py arguments.

Pure: no Docker call here, so every security property is visible (and unit-tested)
in one place. ``runner.sandbox.docker`` passes the result to ``containers.create``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runner.errors import InvalidInputError, SandboxError
from runner.sandbox.backend import (
    GATEWAY_PORT,
    SANDBOX_HOME,
    SANDBOX_RUN_DIR,
    SANDBOX_WORKSPACE,
    SESSION_LABEL,
    SandboxSpec,
)

#: The image's unprivileged user (images/sandbox/Dockerfile).
SANDBOX_UID = 1000
SANDBOX_GID = 1000

#: gVisor's ptrace platform runs the agent's processes as host threads of its own: the
#: pids cgroup then counts the sandbox kernel's threads (about 210 for an idle Claude Code
#: here) plus about 8 host threads per process inside, and gVisor aborts the whole
#: sandbox when it cannot make one. The policy's ``pids`` stays the agent's processes;
#: the host limit under runsc is scaled by these measured figures (docs/sandbox.md).
GVISOR_RUNTIME = "runsc"
GVISOR_THREADS_PER_PROCESS = 8
GVISOR_BASE_THREADS = 256

#: Sockets that would hand the agent the host: never mounted, not even via a parent dir.
DOCKER_SOCKETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
)


def container_user() -> str:
    """uid:gid the agent runs as: the image's user, or ours when we are not root (so
    the session's host directories, which we own, stay writable for it)."""
    if os.geteuid() == 0:
        return f"{SANDBOX_UID}:{SANDBOX_GID}"
    return f"{os.geteuid()}:{os.getegid()}"


def sandbox_env(spec: SandboxSpec, *, port: int = GATEWAY_PORT) -> dict[str, str]:
    """The container's environment: the caller's extras, then ours, which always win
    (a client-supplied ANTHROPIC_BASE_URL must never point Claude Code elsewhere)."""
    try:
        claude_session = str(uuid.UUID(spec.claude_session))
    except ValueError as exc:
        raise InvalidInputError(f"claude_session must be a UUID: {spec.claude_session!r}") from exc
    ours = {
        "HOME": SANDBOX_HOME,
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
        # The per-session opaque token; the gateway swaps it for the real key outside.
        "ANTHROPIC_API_KEY": spec.token,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "WARDEN_SESSION_UUID": claude_session,
        "WARDEN_PERMISSION_MODE": spec.permission_mode,
        "WARDEN_GATEWAY_PORT": str(port),
        "WARDEN_COLS": str(spec.cols),
        "WARDEN_ROWS": str(spec.rows),
        "TERM": "xterm-256color",
    }
    if spec.model:
        ours["WARDEN_MODEL"] = spec.model
    env = {k: v for k, v in spec.env.items() if k.upper() not in _PROXY_VARIABLES}
    if spec.egress:
        ours.update(proxy_env(spec.token, port))
    # A client's own proxy variables are dropped: only Warden says where egress goes.
    return {**env, **ours}


_PROXY_VARIABLES = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"})


def proxy_env(token: str, port: int) -> dict[str, str]:
    """The proxy variables: the gateway's loopback forwarder, with the session token as the
    proxy password (the proxy answers only to it). Loopback stays direct, so the model
    calls and the hook never pass through the proxy."""
    url = f"http://warden:{token}@127.0.0.1:{port}"
    direct = "localhost,127.0.0.1,::1"
    return {
        "HTTP_PROXY": url, "HTTPS_PROXY": url, "http_proxy": url, "https_proxy": url,
        "NO_PROXY": direct, "no_proxy": direct,
    }  # fmt: skip


def sandbox_volumes(spec: SandboxSpec) -> dict[str, dict[str, str]]:
    """Bind mounts: workspace, home, and the run dir holding the gateway socket."""
    workspace_rw = "ro" if spec.workspace_mode == "ro" else "rw"
    volumes = {
        str(spec.workspace.resolve()): {"bind": SANDBOX_WORKSPACE, "mode": workspace_rw},
        str(spec.home_dir.resolve()): {"bind": SANDBOX_HOME, "mode": "rw"},
        # Read-only: the agent can connect to the socket but not swap it for its own.
        str(spec.run_dir.resolve()): {"bind": SANDBOX_RUN_DIR, "mode": "ro"},
    }
    refuse_docker_socket(volumes)
    return volumes


def refuse_docker_socket(sources: Iterable[str], extra: Iterable[str] = ()) -> None:
    """Fail if any mount source is, or contains, a container-runtime socket.

    Raises:
        SandboxError: mounting it would give the agent root on the host.
    """
    forbidden = [Path(p) for p in (*DOCKER_SOCKETS, *extra)]
    forbidden += [p.resolve() for p in forbidden if p.exists()]
    for source in sources:
        src = Path(source).resolve()
        for sock in forbidden:
            if src == sock or sock.is_relative_to(src):
                raise SandboxError(
                    "refusing to mount a container runtime socket into a sandbox",
                    details={"source": str(src), "socket": str(sock)},
                )


def host_pids_limit(spec: SandboxSpec) -> int:
    """The pids cgroup limit for the policy's process count under the spec's runtime."""
    if spec.runtime == GVISOR_RUNTIME:
        return GVISOR_BASE_THREADS + spec.pids_limit * GVISOR_THREADS_PER_PROCESS
    return spec.pids_limit


def container_config(spec: SandboxSpec, *, port: int = GATEWAY_PORT) -> dict[str, Any]:
    """Keyword arguments for docker-py ``containers.create``: the hardened default."""
    labels = {**spec.labels, SESSION_LABEL: spec.session_id}
    config: dict[str, Any] = {
        "image": spec.image,
        "environment": sandbox_env(spec, port=port),
        "labels": labels,
        "volumes": sandbox_volumes(spec),
        "working_dir": SANDBOX_WORKSPACE,
        # WHY: no network namespace peers at all; the only way out is the gateway's
        # unix socket, where the key is injected and every request is checked.
        "network_mode": "none",
        # WHY: the agent cannot alter Claude Code, the hook or the managed settings.
        "read_only": True,
        # WHY: the only writable scratch space, bounded so it cannot fill host memory.
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={spec.tmpfs_bytes},mode=1777"},  # noqa: S108 (in the container)
        # WHY: never root inside; a kernel or runtime bug then starts unprivileged.
        "user": spec.user or container_user(),
        # WHY: no capability is needed to run an editor, git and a CLI.
        "cap_drop": ["ALL"],
        # WHY: setuid binaries in the image cannot raise privileges.
        "security_opt": ["no-new-privileges"],
        # WHY: bounded processes, memory (no extra swap) and CPU: a fork bomb or a
        # runaway build stays inside its session and the host stays healthy.
        "pids_limit": host_pids_limit(spec),
        "mem_limit": spec.memory_bytes,
        "memswap_limit": spec.memory_bytes,
        "nano_cpus": int(spec.cpus * 1e9),
        # WHY: the container's TTY output is also logged by dockerd; cap it on disk.
        "log_config": {"type": "json-file", "config": {"max-size": "5m", "max-file": "1"}},
        # tmux's client owns this TTY; the controller reads it through attach.
        "tty": True,
        "stdin_open": True,
    }
    if spec.runtime:
        # WHY: gVisor (runsc) puts a user-space kernel between the agent and the host.
        config["runtime"] = spec.runtime
    return config
