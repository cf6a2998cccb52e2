"""The hardened session Pod, as a plain manifest: the chart's template, tightened.

Pure: no API call here, so every security property is visible (and unit-tested) in one
place, as ``hardening.py`` is for Docker. The template (the chart's ``<release>-session-pod``
ConfigMap) sets placement, the runtime class, securityContexts and default resources;
this module adds the session's name, labels, command, env, volumes and the policy's
limits. It only ever tightens the template, and refuses one that asks for something a
session must not have (host namespaces or paths, privilege, capabilities, root).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kubernetes.utils.quantity import parse_quantity

from runner.core import WorkspaceMode
from runner.errors import SandboxError
from runner.sandbox.backend import (
    SANDBOX_HOME,
    SANDBOX_RUN_DIR,
    SANDBOX_WORKSPACE,
    SESSION_LABEL,
    SandboxSpec,
)
from runner.sandbox.hardening import SANDBOX_GID, SANDBOX_UID, sandbox_env

#: The containers of a session Pod: the init container that places the workspace and
#: home, and the one that runs tmux and Claude Code.
INIT_CONTAINER = "workspace"
SANDBOX_CONTAINER = "sandbox"
#: The entrypoint waits for this file before it starts tmux: the controller attaches
#: first (a Pod starts as soon as it exists; attach only sees output from then on).
START_FILE = "/tmp/warden-start"  # noqa: S108 (inside the Pod, a per-Pod emptyDir)

#: Volume types Pod Security "restricted" allows; anything else in a template is refused.
_ALLOWED_VOLUMES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
     "projected", "secret"}
)  # fmt: skip
_SECCOMP_TYPES = ("RuntimeDefault", "Localhost")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclass(frozen=True)
class PodSettings:
    """What every session Pod of this controller shares (``WARDEN_KUBERNETES_*``)."""

    namespace: str
    gateway_host: str
    gateway_port: int
    template: Mapping[str, Any] = field(default_factory=dict)
    #: Policy runtime → RuntimeClass name (a policy's ``runsc`` is the cluster's gVisor).
    runtime_classes: Mapping[str, str] = field(default_factory=lambda: {"runsc": "gvisor"})


def pod_manifest(spec: SandboxSpec, settings: PodSettings, *, name: str) -> dict[str, Any]:
    """The Pod to create for ``spec``.

    Raises:
        SandboxError: the template is unsafe, the policy contradicts it, or the mode is
            ``rw`` (the user's directory cannot be shared with a Pod).
    """
    if spec.workspace_mode == WorkspaceMode.RW:
        raise SandboxError(
            "workspace mode rw needs the sandbox to share the controller's filesystem; on"
            " Kubernetes use copy (the changes come back as a patch) or ro",
            details={"workspaceMode": "rw", "backend": "kubernetes"},
        )
    template = copy.deepcopy(dict(settings.template))
    _refuse_unsafe(template)
    meta = dict(template.get("metadata") or {})
    pod_spec: dict[str, Any] = dict(template.get("spec") or {})
    containers = _template_containers(pod_spec)
    resources = _resources(spec, containers[SANDBOX_CONTAINER].get("resources") or {})
    labels = {**(meta.get("labels") or {}), **spec.labels, SESSION_LABEL: spec.session_id}
    _check_labels(labels)
    pod_spec.update(
        {
            # WHY: a session has no business with the Kubernetes API: no token at all.
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "restartPolicy": "Never",
            "hostNetwork": False,
            "hostPID": False,
            "hostIPC": False,
            "shareProcessNamespace": False,
            "securityContext": _pod_security(pod_spec.get("securityContext") or {}, spec),
            "volumes": [*pod_spec.get("volumes", []), *_volumes(spec)],
            "initContainers": [_init_container(spec, settings, containers, resources)],
            "containers": [_sandbox_container(spec, containers, resources)],
        }
    )
    pod_spec.setdefault("terminationGracePeriodSeconds", 10)
    runtime_class = _runtime_class(spec, settings, pod_spec.get("runtimeClassName"))
    if runtime_class:
        pod_spec["runtimeClassName"] = runtime_class
    metadata = {"name": name, "namespace": settings.namespace, "labels": labels}
    if meta.get("annotations"):
        metadata["annotations"] = dict(meta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}


def _refuse_unsafe(template: Mapping[str, Any]) -> None:
    spec = template.get("spec") or {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True:
            _unsafe(f"spec.{key} is true")
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= _ALLOWED_VOLUMES:
            _unsafe(f"volume {volume.get('name')!r} is of type {sorted(kinds - _ALLOWED_VOLUMES)}")
    if spec.get("ephemeralContainers"):
        _unsafe("it has ephemeralContainers")
    sc = spec.get("securityContext") or {}
    if sc.get("runAsUser") == 0 or sc.get("runAsNonRoot") is False:
        _unsafe("the Pod runs as root")


def _unsafe(why: str) -> None:
    raise SandboxError(
        f"the session Pod template (WARDEN_KUBERNETES_POD_TEMPLATE) is refused: {why}",
        details={"reason": why},
    )


def _template_containers(pod_spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The template's two containers by name (empty ones if it has none)."""
    found: dict[str, dict[str, Any]] = {INIT_CONTAINER: {}, SANDBOX_CONTAINER: {}}
    for kind, allowed in (("initContainers", INIT_CONTAINER), ("containers", SANDBOX_CONTAINER)):
        for container in pod_spec.get(kind) or []:
            if container.get("name") != allowed:
                # A sidecar would share the session's network and volumes: never.
                _unsafe(f"{kind} may only hold {allowed!r}, not {container.get('name')!r}")
            found[allowed] = dict(container)
    return found


def _container_security(template: Mapping[str, Any]) -> dict[str, Any]:
    """Pod Security "restricted" for one container, whatever the template said."""
    sc = dict(template.get("securityContext") or {})
    caps = dict(sc.get("capabilities") or {})
    if caps.get("add") or sc.get("privileged") is True or sc.get("runAsUser") == 0:
        _unsafe("a container adds capabilities, is privileged or runs as root")
    seccomp = sc.get("seccompProfile") or {}
    if seccomp.get("type") not in _SECCOMP_TYPES:
        seccomp = {"type": "RuntimeDefault"}
    drop = [c for c in caps.get("drop") or [] if c != "ALL"]
    sc.update(
        {
            # WHY: no capability is needed to run an editor, git and a CLI.
            "capabilities": {"drop": ["ALL", *drop]},
            # WHY: setuid binaries in the image cannot raise privileges.
            "allowPrivilegeEscalation": False,
            "privileged": False,
            # WHY: the agent cannot alter Claude Code, the hook or the managed settings.
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "seccompProfile": seccomp,
        }
    )
    return sc


def _pod_security(template: Mapping[str, Any], spec: SandboxSpec) -> dict[str, Any]:
    sc = dict(template)
    if spec.user:
        uid, _, gid = spec.user.partition(":")
        sc["runAsUser"], sc["runAsGroup"] = int(uid), int(gid or uid)
    sc.setdefault("runAsUser", SANDBOX_UID)
    sc.setdefault("runAsGroup", SANDBOX_GID)
    if sc["runAsUser"] == 0:
        _unsafe("the sandbox user is root")
    sc["runAsNonRoot"] = True
    if (sc.get("seccompProfile") or {}).get("type") not in _SECCOMP_TYPES:
        sc["seccompProfile"] = {"type": "RuntimeDefault"}
    return sc


def _volumes(spec: SandboxSpec) -> list[dict[str, Any]]:
    """The session's own volumes: all emptyDirs (no host path ever)."""
    workspace: dict[str, Any] = {}
    if spec.disk_bytes is not None:
        workspace["sizeLimit"] = str(spec.disk_bytes)
    tmpfs = str(spec.tmpfs_bytes)
    return [
        {"name": "warden-home", "emptyDir": {}},
        {"name": "warden-workspace", "emptyDir": workspace},
        # Where the gateway is (written by the init container, read-only to the agent).
        {"name": "warden-run", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        # WHY: the only other writable scratch space, in memory and bounded.
        {"name": "warden-tmp", "emptyDir": {"medium": "Memory", "sizeLimit": tmpfs}},
    ]


def _mounts(*, workspace_read_only: bool, init: bool) -> list[dict[str, Any]]:
    return [
        # WHY read-only for the agent: the hook and the forwarder read the gateway's
        # address here; the agent must not point them at a server of its own.
        {"name": "warden-run", "mountPath": SANDBOX_RUN_DIR, "readOnly": not init},
        {"name": "warden-home", "mountPath": SANDBOX_HOME},
        {
            "name": "warden-workspace",
            "mountPath": SANDBOX_WORKSPACE,
            "readOnly": workspace_read_only,
        },
        {"name": "warden-tmp", "mountPath": "/tmp"},  # noqa: S108 (inside the Pod)
    ]


def _gateway_env(settings: PodSettings) -> dict[str, str]:
    return {
        "WARDEN_GATEWAY_TCP_HOST": settings.gateway_host,
        "WARDEN_GATEWAY_TCP_PORT": str(settings.gateway_port),
    }


def _env_list(env: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in env.items()]


def _init_container(
    spec: SandboxSpec,
    settings: PodSettings,
    containers: Mapping[str, Mapping[str, Any]],
    resources: Mapping[str, Any],
) -> dict[str, Any]:
    template = containers[INIT_CONTAINER]
    env = {**_gateway_env(settings), "WARDEN_SESSION_TOKEN": spec.token, "HOME": SANDBOX_HOME}
    return {
        **{k: v for k, v in template.items() if k in ("imagePullPolicy",)},
        "name": INIT_CONTAINER,
        "image": spec.image,
        "command": ["/usr/local/bin/warden-provision"],
        "env": _env_list(env),
        "securityContext": _container_security(template),
        "resources": resources,
        "volumeMounts": _mounts(workspace_read_only=False, init=True),
    }


def _sandbox_container(
    spec: SandboxSpec,
    containers: Mapping[str, Mapping[str, Any]],
    resources: Mapping[str, Any],
) -> dict[str, Any]:
    template = containers[SANDBOX_CONTAINER]
    env = {**sandbox_env(spec), "WARDEN_START_FILE": START_FILE}
    return {
        **{k: v for k, v in template.items() if k in ("imagePullPolicy",)},
        "name": SANDBOX_CONTAINER,
        "image": spec.image,
        "command": ["/usr/bin/tini", "--", "/usr/local/bin/warden-entrypoint"],
        "workingDir": SANDBOX_WORKSPACE,
        "env": _env_list(env),
        "securityContext": _container_security(template),
        "resources": resources,
        "volumeMounts": _mounts(
            workspace_read_only=spec.workspace_mode == WorkspaceMode.RO, init=False
        ),
        # tmux's client owns this TTY; the controller reads it through attach.
        "stdin": True,
        "stdinOnce": False,
        "tty": True,
    }


def _resources(spec: SandboxSpec, template: Mapping[str, Any]) -> dict[str, Any]:
    """The policy's limits, never above the template's; requests never above the limits."""
    limits_t = dict(template.get("limits") or {})
    wanted: dict[str, Decimal | None] = {
        "cpu": Decimal(str(spec.cpus)),
        "memory": Decimal(spec.memory_bytes),
        "ephemeral-storage": None if spec.disk_bytes is None else Decimal(spec.disk_bytes),
    }
    limits: dict[str, Decimal] = {}
    for key, value in wanted.items():
        ceiling = _quantity(limits_t[key]) if key in limits_t else None
        chosen = [v for v in (value, ceiling) if v is not None]
        if chosen:
            limits[key] = min(chosen)
    requests = {
        key: min(_quantity(v), limits[key]) if key in limits else _quantity(v)
        for key, v in (template.get("requests") or {}).items()
    }
    return {"limits": _quantities(limits), "requests": _quantities(requests)}


def _quantity(value: Any) -> Decimal:
    """A Kubernetes quantity ("500m", "4Gi", 2) as a number (cores, bytes)."""
    return Decimal(parse_quantity(value))  # type: ignore[no-untyped-call]


def _quantities(values: Mapping[str, Decimal]) -> dict[str, str]:
    out = {}
    for key, value in values.items():
        if key == "cpu":
            out[key] = f"{int(value * 1000)}m"
        else:
            out[key] = str(int(value))
    return out


def _runtime_class(spec: SandboxSpec, settings: PodSettings, template: str | None) -> str | None:
    """The template's RuntimeClass holds for every session; a policy may name one only
    where the template has none, or the same one (never a weaker one instead)."""
    wanted = None
    if spec.runtime and spec.runtime != "runc":
        wanted = settings.runtime_classes.get(spec.runtime, spec.runtime)
    if template and wanted and wanted != template:
        raise SandboxError(
            f"the policy asks for runtime {spec.runtime!r} (RuntimeClass {wanted!r}) but every"
            f" session Pod runs under RuntimeClass {template!r} (the chart's"
            " sessions.runtimeClassName)",
            details={"runtime": spec.runtime, "runtimeClassName": template},
        )
    return template or wanted


def _check_labels(labels: Mapping[str, str]) -> None:
    for key, value in labels.items():
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            raise SandboxError(
                f"label {key}={value!r} is not a valid Kubernetes label value",
                details={"label": key},
            )
