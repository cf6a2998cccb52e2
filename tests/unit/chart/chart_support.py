"""Rendering the Helm chart with the real Helm engine (helm-python-sdk embeds Helm v4),
and what the tests check the manifests against.

No Kubernetes API server can run on these machines; the API's own schemas
(kubernetes-validate) and Pod Security's "restricted" rules stand in for it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import require

CHART = Path(__file__).resolve().parents[3] / "helm" / "warden"
HA_VALUES = CHART / "ci" / "ha-values.yaml"
RELEASE = "warden"
NAMESPACE = "warden-system"

Manifest = dict[str, Any]


def helm() -> Any:
    """The Helm engine module (fails in CI, skips elsewhere, when it is not installed)."""
    try:
        import helm_python
    except ImportError as exc:  # pragma: no cover - depends on the environment
        require(False, f"helm-python-sdk is not installed: {exc}")
        raise
    return helm_python


def render(values: dict[str, Any] | None = None) -> list[Manifest]:
    """Every manifest the chart renders for ``values`` (NOTES.txt left out)."""
    with helm().Chart.load(str(CHART)) as chart:
        files = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE)
    return [
        doc
        for path, text in sorted(files.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def render_error(values: dict[str, Any]) -> str:
    """The message of the error rendering ``values`` fails with (the test fails if it renders)."""
    engine = helm()
    with engine.Chart.load(str(CHART)) as chart:
        try:
            chart.render(values, name=RELEASE, namespace=NAMESPACE)
        except engine.HelmError as exc:
            return str(exc)
    raise AssertionError(f"the chart rendered with {values}")


@functools.cache
def ha_values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(HA_VALUES.read_text(encoding="utf-8"))
    return loaded


def one(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    """The single manifest of ``kind`` (and ``name``)."""
    found = [m for m in manifests if m["kind"] == kind and name in (None, m["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} named {name}: {[m['metadata'] for m in found]}"
    return found[0]


def session_pod(manifests: list[Manifest]) -> Manifest:
    """The session Pod template the chart hands to the controller (its ConfigMap)."""
    config = one(manifests, "ConfigMap", f"{RELEASE}-session-pod")
    pod: Manifest = yaml.safe_load(config["data"]["pod.yaml"])
    return pod


def all_containers(pod_spec: Manifest) -> Iterator[Manifest]:
    yield from pod_spec.get("initContainers", [])
    yield from pod_spec["containers"]
    yield from pod_spec.get("ephemeralContainers", [])


#: Pod Security Standards, "restricted" profile (which includes "baseline").
_ALLOWED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip


def restricted_violations(pod_spec: Manifest) -> list[str]:
    """What keeps ``pod_spec`` from Pod Security "restricted" (plus a read-only root)."""
    bad: list[str] = []
    pod_sc = pod_spec.get("securityContext", {})
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(flag):
            bad.append(f"pod {flag}")
    for volume in pod_spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= _ALLOWED_VOLUMES:
            bad.append(f"volume {volume['name']} is {sorted(kinds)}")
    if pod_sc.get("runAsUser") == 0:
        bad.append("pod runAsUser 0")
    for container in all_containers(pod_spec):
        name = container["name"]
        sc = container.get("securityContext", {})
        if sc.get("privileged"):
            bad.append(f"{name} privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            bad.append(f"{name} allowPrivilegeEscalation is not false")
        if not (sc.get("runAsNonRoot") is True or pod_sc.get("runAsNonRoot") is True):
            bad.append(f"{name} runAsNonRoot is not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            bad.append(f"{name} runAsUser 0")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            bad.append(f"{name} seccompProfile {seccomp}")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            bad.append(f"{name} does not drop ALL capabilities")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            bad.append(f"{name} adds {caps['add']}")
        if container.get("ports") and any(p.get("hostPort") for p in container["ports"]):
            bad.append(f"{name} uses a hostPort")
        if sc.get("readOnlyRootFilesystem") is not True:
            bad.append(f"{name} root filesystem is writable")
    return bad
