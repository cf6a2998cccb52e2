"""The session Pod the Kubernetes backend sends: the chart's template, tightened by the
session's spec; valid for the Kubernetes API and Pod Security "restricted"."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import pytest

from runner.core import WorkspaceMode
from runner.errors import SandboxError
from runner.sandbox.backend import SESSION_LABEL, SandboxSpec
from runner.sandbox.kube_status import pod_failure, pod_info
from runner.sandbox.pod import PodSettings, pod_manifest
from tests.unit.chart.chart_support import (
    all_containers,
    ha_values,
    render,
    restricted_violations,
    session_pod,
)


def _spec(**values: Any) -> SandboxSpec:
    base: dict[str, Any] = {
        "session_id": str(uuid.uuid4()),
        "image": "registry.example.com/warden-sandbox:1",
        "workspace": Path("/srv/ws"),
        "workspace_mode": WorkspaceMode.COPY,
        "home_dir": Path("/srv/home"),
        "run_dir": Path("/srv/run"),
        "token": "wdn_" + "x" * 40,
        "claude_session": str(uuid.uuid4()),
    }
    return SandboxSpec(**{**base, **values})


def _pod(template: dict[str, Any] | None = None, **values: Any) -> dict[str, Any]:
    settings = PodSettings(
        namespace="warden-sessions", gateway_host="10.1.2.3", gateway_port=8788,
        template=session_pod(render()) if template is None else template,
    )  # fmt: skip
    return pod_manifest(_spec(**values), settings, name="warden-abc-123")


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


@pytest.mark.parametrize("values", ["default", "ha"])
def test_the_pod_from_the_chart_validates_and_is_restricted(values: str) -> None:
    """From either value set's template, the Pod is valid for the newest Kubernetes
    (strict: no unknown field) and meets "restricted" with a read-only root."""
    import kubernetes_validate
    from kubernetes_validate import utils

    template = session_pod(render(ha_values() if values == "ha" else {}))
    pod = _pod(template)
    newest = max(utils.all_versions(), key=lambda v: tuple(int(p) for p in v.split(".")))
    kubernetes_validate.validate(pod, newest, strict=True)
    assert restricted_violations(pod["spec"]) == []
    assert pod["spec"].get("runtimeClassName") == ("gvisor" if values == "ha" else None)


def test_labels_hardening_and_placement() -> None:
    """The session label (for re-adoption), the chart's labels, no token, no host
    namespaces, only emptyDirs, the workspace init container then the TTY sandbox."""
    spec = _spec(labels={"team": "blue"})
    settings = PodSettings("warden-sessions", "10.1.2.3", 8788, template=session_pod(render()))
    pod = pod_manifest(spec, settings, name="warden-abc-123")
    labels = pod["metadata"]["labels"]
    assert labels[SESSION_LABEL] == spec.session_id
    assert labels["team"] == "blue" and labels["app.kubernetes.io/component"] == "session"
    body = pod["spec"]
    assert body["automountServiceAccountToken"] is False
    assert body["serviceAccountName"] == "warden-session"
    assert not any(body[k] for k in ("hostNetwork", "hostPID", "hostIPC"))
    assert all(set(v) == {"name", "emptyDir"} for v in body["volumes"])
    init, sandbox = body["initContainers"][0], body["containers"][0]
    assert init["name"] == "workspace" and init["command"] == ["/usr/local/bin/warden-provision"]
    assert _env(init)["WARDEN_GATEWAY_TCP_HOST"] == "10.1.2.3"
    assert _env(init)["WARDEN_GATEWAY_TCP_PORT"] == "8788"
    assert sandbox["tty"] is True and sandbox["stdin"] is True
    assert sandbox["image"] == init["image"] == spec.image
    assert _env(sandbox)["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8787"
    assert _env(sandbox)["ANTHROPIC_API_KEY"] == spec.token
    run = {m["mountPath"]: m for m in sandbox["volumeMounts"]}["/run/warden"]
    assert run["readOnly"] is True  # the agent cannot rewrite where its hook asks
    for container in all_containers(body):
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_policy_limits_never_exceed_the_template() -> None:
    """CPU, memory and disk (ephemeral storage) come from the policy, capped by the
    chart's limits; requests stay at or below the limits."""
    small = _pod(cpus=1.0, memory_bytes=1024**3, disk_bytes=2 * 1024**3)
    resources = small["spec"]["containers"][0]["resources"]
    assert resources["limits"] == {
        "cpu": "1000m", "memory": str(1024**3), "ephemeral-storage": str(2 * 1024**3)
    }  # fmt: skip
    assert resources["requests"] == {"cpu": "500m", "memory": str(1024**3)}
    big = _pod(cpus=16.0, memory_bytes=64 * 1024**3, disk_bytes=None)
    assert big["spec"]["containers"][0]["resources"]["limits"] == {
        "cpu": "2000m", "memory": str(4 * 1024**3), "ephemeral-storage": str(4 * 1024**3)
    }  # fmt: skip
    workspace = {v["name"]: v for v in small["spec"]["volumes"]}["warden-workspace"]
    assert workspace["emptyDir"] == {"sizeLimit": str(2 * 1024**3)}


def test_runtime_class_from_policy_or_template() -> None:
    """A policy's runsc is the cluster's gvisor; the template's class holds for all and a
    policy naming another is refused, never quietly run under the weaker one."""
    assert _pod(runtime="runsc")["spec"]["runtimeClassName"] == "gvisor"
    assert "runtimeClassName" not in _pod(runtime=None)["spec"]
    kata = session_pod(render({"sessions": {"runtimeClassName": "kata"}}))
    assert _pod(kata, runtime=None)["spec"]["runtimeClassName"] == "kata"
    with pytest.raises(SandboxError, match="RuntimeClass 'kata'"):
        _pod(kata, runtime="runsc")


def test_ro_mounts_the_workspace_read_only_and_rw_is_refused() -> None:
    """ro: the Pod's copy is read-only to the agent; rw cannot be shared with a Pod."""
    pod = _pod(workspace_mode=WorkspaceMode.RO)
    mounts = {m["mountPath"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["/workspace"]["readOnly"] is True
    with pytest.raises(SandboxError, match="rw"):
        _pod(workspace_mode=WorkspaceMode.RW)


def _add_capability(spec: dict[str, Any]) -> None:
    spec["containers"][0]["securityContext"]["capabilities"] = {"add": ["NET_ADMIN"]}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda s: s.update(hostNetwork=True), "hostNetwork"),
        (lambda s: s["volumes"].append({"name": "d", "hostPath": {"path": "/"}}), "hostPath"),
        (lambda s: s["containers"].append({"name": "sidecar", "image": "x"}), "sidecar"),
        (lambda s: s["containers"][0]["securityContext"].update(privileged=True), "privileged"),
        (_add_capability, "capabilities"),
        (lambda s: s["securityContext"].update(runAsUser=0), "root"),
    ],
)
def test_an_unsafe_template_is_refused(change: Any, why: str) -> None:
    """A template asking for host access, privilege, a sidecar or root makes no Pod."""
    template = copy.deepcopy(session_pod(render()))
    template["spec"].setdefault("volumes", [])
    change(template["spec"])
    with pytest.raises(SandboxError, match="template") as refused:
        _pod(template)
    assert why in refused.value.message


def test_weak_template_settings_are_tightened() -> None:
    """Escalation, a writable root or no seccomp in the template do not reach the Pod."""
    template = copy.deepcopy(session_pod(render()))
    template["spec"]["automountServiceAccountToken"] = True
    template["spec"]["containers"][0]["securityContext"] = {
        "allowPrivilegeEscalation": True, "readOnlyRootFilesystem": False,
        "seccompProfile": {"type": "Unconfined"},
    }  # fmt: skip
    pod = _pod(template)
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert restricted_violations(pod["spec"]) == []


def test_pod_status_in_sandbox_words() -> None:
    """Phases and container states map to created/running/exited/removing, and a
    failure names what failed: an image that will not pull, a failed init container."""
    meta = {"name": "p", "labels": {SESSION_LABEL: "s1"}}
    pending = {"metadata": meta, "status": {"phase": "Pending"}}
    assert (pod_info(pending).status, pod_info(pending).session_id) == ("created", "s1")
    running = {"metadata": meta, "status": {"phase": "Running", "containerStatuses": [
        {"name": "sandbox", "state": {"running": {}}}]}}  # fmt: skip
    assert pod_info(running).is_running
    ended = {"metadata": meta, "status": {"phase": "Failed", "containerStatuses": [
        {"name": "sandbox", "state": {"terminated": {"exitCode": 137}}}]}}  # fmt: skip
    assert (pod_info(ended).status, pod_info(ended).exit_code) == ("exited", 137)
    gone = {"metadata": {**meta, "deletionTimestamp": "2026-01-01T00:00:00Z"}, "status": {}}
    assert pod_info(gone).status == "removing"
    assert pod_failure(pending) is None and pod_failure(running) is None
    pull = {"metadata": meta, "status": {"phase": "Pending", "initContainerStatuses": [
        {"name": "workspace", "state": {"waiting": {"reason": "ImagePullBackOff",
                                                    "message": "not found"}}}]}}  # fmt: skip
    failure = pod_failure(pull)
    assert failure is not None and "could not be pulled" in failure.message
