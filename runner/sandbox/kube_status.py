"""What a session Pod's status means for Warden: running, exited, or failed and why.

Pure functions over the Pod's JSON (``status.phase``, ``containerStatuses``,
``initContainerStatuses``), so the mapping is unit-tested without an API server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.errors import ImageNotFoundError, SandboxError
from runner.sandbox.backend import SESSION_LABEL, SandboxInfo
from runner.sandbox.pod import INIT_CONTAINER, SANDBOX_CONTAINER

#: Waiting reasons after which the container will not start by itself.
_IMAGE_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})
_CONFIG_REASONS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
)


def _container(pod: Mapping[str, Any], kind: str, name: str) -> Mapping[str, Any]:
    for status in (pod.get("status") or {}).get(kind) or []:
        if status.get("name") == name:
            return dict(status.get("state") or {})
    return {}


def sandbox_running(pod: Mapping[str, Any]) -> bool:
    """The sandbox container has started (its entrypoint runs)."""
    return "running" in _container(pod, "containerStatuses", SANDBOX_CONTAINER)


def pod_info(pod: Mapping[str, Any]) -> SandboxInfo:
    """A Pod as a ``SandboxInfo``, in the Docker backend's status words."""
    meta = pod.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    phase = (pod.get("status") or {}).get("phase", "Unknown")
    state = _container(pod, "containerStatuses", SANDBOX_CONTAINER)
    exit_code: int | None = None
    if meta.get("deletionTimestamp"):
        status = "removing"
    elif "running" in state:
        status = "running"
    elif "terminated" in state or phase in ("Succeeded", "Failed"):
        status = "exited"
        exit_code = int((state.get("terminated") or {}).get("exitCode", 1))
    elif phase == "Pending" or "waiting" in state:
        status = "created"
    else:
        status = "unknown"
    return SandboxInfo(
        id=str(meta.get("name", "")),
        session_id=labels.get(SESSION_LABEL, ""),
        status=status,
        exit_code=exit_code,
        labels=labels,
    )


def pod_failure(pod: Mapping[str, Any]) -> SandboxError | None:
    """Why the Pod will never run its sandbox container, or None while it still may."""
    name = (pod.get("metadata") or {}).get("name", "")
    for kind, container in (
        ("initContainerStatuses", INIT_CONTAINER),
        ("containerStatuses", SANDBOX_CONTAINER),
    ):
        state = _container(pod, kind, container)
        waiting = state.get("waiting") or {}
        reason = str(waiting.get("reason", ""))
        detail = str(waiting.get("message", reason))
        if reason in _IMAGE_REASONS:
            return ImageNotFoundError(
                f"sandbox image could not be pulled for Pod {name}: {detail}; push it to"
                " the cluster's registry (docs/deployment.md)",
                details={"pod": name, "container": container, "reason": reason},
            )
        if reason in _CONFIG_REASONS:
            return SandboxError(
                f"container {container} of Pod {name} could not start: {detail}",
                details={"pod": name, "container": container, "reason": reason},
            )
        terminated = state.get("terminated") or {}
        code = terminated.get("exitCode")
        failed_init = container == INIT_CONTAINER and code not in (None, 0)
        if failed_init or (container == SANDBOX_CONTAINER and terminated):
            what = "placing the workspace" if container == INIT_CONTAINER else "the sandbox"
            return SandboxError(
                f"{what} failed in Pod {name}: exit code {code}"
                f" ({terminated.get('reason') or terminated.get('message') or 'no reason'})",
                details={"pod": name, "container": container, "exitCode": code},
            )
    if (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
        message = (pod.get("status") or {}).get("message") or "the Pod ended"
        return SandboxError(f"Pod {name} ended before its sandbox ran: {message}")
    return None
