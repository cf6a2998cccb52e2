"""What the chart grants and forbids: the NetworkPolicies, Pod Security "restricted" on
the controller and on session Pods, the Role's exact verbs, and Secrets that stay Secrets."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from audit.signing import KeyRing
from tests.unit.chart.chart_support import (
    NAMESPACE,
    RELEASE,
    Manifest,
    all_containers,
    ha_values,
    one,
    render,
    restricted_violations,
    session_pod,
)

SESSIONS = "warden-sessions"
CONTROLLER = {
    "app.kubernetes.io/name": "warden", "app.kubernetes.io/instance": RELEASE,
    "app.kubernetes.io/component": "controller",
}  # fmt: skip


def _controller_pod(manifests: list[Manifest]) -> Manifest:
    spec: Manifest = one(manifests, "Deployment")["spec"]["template"]["spec"]
    return spec


def test_session_pods_may_only_reach_the_controller_gateway_port() -> None:
    """Every Pod of the sessions namespace: no ingress, egress only to the controller's port."""
    manifests = render({"sessions": {"gatewayPort": 9911}})
    policy = one(manifests, "NetworkPolicy", f"{RELEASE}-sessions")
    assert policy["metadata"]["namespace"] == SESSIONS
    spec = policy["spec"]
    assert spec["podSelector"] == {}  # every Pod there, labelled or not
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    assert spec.get("ingress", []) == []
    assert spec["egress"] == [
        {
            "to": [{
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
                "podSelector": {"matchLabels": CONTROLLER},
            }],
            "ports": [{"port": 9911, "protocol": "TCP"}],
        }
    ]  # fmt: skip
    controller = _controller_pod(manifests)["containers"][0]
    assert {"name": "gateway", "containerPort": 9911, "protocol": "TCP"} in controller["ports"]
    env = {e["name"]: e for e in controller["env"]}
    assert env["WARDEN_KUBERNETES_GATEWAY_PORT"]["value"] == "9911"
    assert env["WARDEN_KUBERNETES_GATEWAY_HOST"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "status.podIP"}
    }


def test_controller_gateway_port_admits_only_session_pods() -> None:
    """The controller's policy: the API from the allowed sources, the gateway from sessions."""
    ingress_ns = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}}}
    manifests = render({"networkPolicy": {"apiFrom": [ingress_ns]}})
    spec = one(manifests, "NetworkPolicy", f"{RELEASE}-controller")["spec"]
    assert spec["podSelector"] == {"matchLabels": CONTROLLER}
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    api, gateway = spec["ingress"]
    assert api == {"ports": [{"port": "http", "protocol": "TCP"}], "from": [ingress_ns]}
    assert gateway["ports"] == [{"port": "gateway", "protocol": "TCP"}]
    assert gateway["from"] == [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": SESSIONS}},
        "podSelector": {"matchLabels": {**CONTROLLER, "app.kubernetes.io/component": "session"}},
    }]  # fmt: skip
    allowed = sorted(p["port"] for rule in spec["egress"] for p in rule["ports"])
    assert allowed == [53, 53, 443, 5432, 6443]
    assert all("to" not in rule for rule in spec["egress"])  # by port; destinations vary


def test_network_policies_can_be_turned_off() -> None:
    """networkPolicy.enabled=false renders none (for clusters whose CNI enforces none)."""
    manifests = render({"networkPolicy": {"enabled": False}})
    assert [m for m in manifests if m["kind"] == "NetworkPolicy"] == []


@pytest.mark.parametrize(
    ("values", "runtime_class"),
    [({}, None), ({"sessions": {"runtimeClassName": "kata"}}, "kata"), ("ha", "gvisor")],
)
def test_both_pod_kinds_are_pod_security_restricted(
    values: dict[str, Any] | str, runtime_class: str | None
) -> None:
    """Controller and session Pods (with the init container) meet "restricted", read-only root."""
    manifests = render(ha_values() if values == "ha" else values)
    controller, session = _controller_pod(manifests), session_pod(manifests)["spec"]
    assert restricted_violations(controller) == []
    assert restricted_violations(session) == []
    assert [c["name"] for c in all_containers(session)] == ["workspace", "sandbox"]
    for spec in (controller, session):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 1000
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in all_containers(spec):
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            }  # fmt: skip
    assert session["automountServiceAccountToken"] is False
    assert session["enableServiceLinks"] is False
    assert session.get("runtimeClassName") == runtime_class


def test_the_restricted_check_can_fail() -> None:
    """The checker flags a root, privileged, escalating, hostPath Pod (it is not a rubber stamp)."""
    spec = session_pod(render())["spec"]
    spec["hostNetwork"] = True
    spec["volumes"] = [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]
    container = spec["containers"][0]
    container["securityContext"] = {"privileged": True, "runAsUser": 0}
    found = "\n".join(restricted_violations(spec))
    for fault in ("hostNetwork", "hostPath", "privileged", "allowPrivilegeEscalation",
                  "runAsUser 0", "drop ALL", "writable"):  # fmt: skip
        assert fault in found, found


def test_sessions_namespace_enforces_restricted() -> None:
    """The namespace the chart creates enforces, audits and warns on "restricted"."""
    namespace = one(render(), "Namespace", SESSIONS)
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    without = render({"sessions": {"createNamespace": False}})
    assert [m for m in without if m["kind"] == "Namespace"] == []


def test_role_grants_exactly_the_backend_verbs_in_the_sessions_namespace() -> None:
    """Pods and their exec/attach/log, in the sessions namespace, bound to the controller only."""
    manifests = render()
    role = one(manifests, "Role")
    assert role["metadata"]["namespace"] == SESSIONS
    rules = {(tuple(r["apiGroups"]), r["resources"][0]): sorted(r["verbs"]) for r in role["rules"]}
    assert rules == {
        (("",), "pods"): ["create", "delete", "get", "list"],
        (("",), "pods/exec"): ["create", "get"],
        (("",), "pods/attach"): ["create", "get"],
        (("",), "pods/log"): ["get"],
    }
    assert all(len(r["resources"]) == 1 for r in role["rules"])
    binding = one(manifests, "RoleBinding")
    assert binding["metadata"]["namespace"] == SESSIONS
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"],
    }  # fmt: skip
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}
    ]
    assert _controller_pod(manifests)["serviceAccountName"] == RELEASE
    assert not [m for m in manifests if m["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    session_account = one(manifests, "ServiceAccount", f"{RELEASE}-session")
    assert session_account["automountServiceAccountToken"] is False


def _secret_values(tmp_path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    ring = KeyRing.open(tmp_path / "key")
    kid = ring.active_key_id
    files = {p.name: p.read_text() for p in (tmp_path / "key").iterdir()}
    values = {
        "upstream": {"apiKey": "sk-ant-SENTINEL-upstream-key"},
        "database": {"url": "postgresql://warden:SENTINEL-db-password@db:5432/warden"},
        "audit": {"signingKey": {
            "keyId": kid, "privateKey": files[f"{kid}.key"], "publicKey": files[f"{kid}.pem"],
        }},
    }  # fmt: skip
    secrets = {
        "upstream": values["upstream"]["apiKey"],
        "database": values["database"]["url"],
        "private key": files[f"{kid}.key"].splitlines()[1],  # the PEM body
    }
    return values, secrets


def test_no_secret_value_is_rendered_outside_a_secret(tmp_path: Path) -> None:
    """Upstream key, database URL and private key appear in Secrets only (never a ConfigMap)."""
    values, secrets = _secret_values(tmp_path)
    manifests = render(values)
    assert any(m["kind"] == "ConfigMap" for m in manifests)
    for manifest in manifests:
        if manifest["kind"] == "Secret":
            continue
        text = repr(manifest)
        for what, secret in secrets.items():
            assert secret not in text, f"the {what} is in {manifest['kind']}"
    stored = "".join(
        base64.b64decode(v).decode() for m in manifests if m["kind"] == "Secret"
        for v in m["data"].values()
    )  # fmt: skip
    assert all(secret in stored for secret in secrets.values())
    env = {e["name"]: e for e in _controller_pod(manifests)["containers"][0]["env"]}
    assert env["WARDEN_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    assert env["WARDEN_UPSTREAM_API_KEY_FILE"]["value"] == "/etc/warden/upstream/api-key"
    assert "WARDEN_UPSTREAM_API_KEY" not in env


def test_inline_signing_key_secret_is_a_key_directory_the_ledger_opens(tmp_path: Path) -> None:
    """The audit-key Secret, written out as its volume would be, loads as the same key."""
    values, _ = _secret_values(tmp_path)
    secret = one(render(values), "Secret", f"{RELEASE}-audit-key")
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    for name, data in secret["data"].items():
        (mounted / name).write_bytes(base64.b64decode(data))
    assert (
        KeyRing.open(mounted, create=False).active_key_id == values["audit"]["signingKey"]["keyId"]
    )
    volumes = {v["name"]: v for v in _controller_pod(render(values))["volumes"]}
    assert volumes["audit-key"]["secret"]["secretName"] == f"{RELEASE}-audit-key"


def test_existing_secrets_are_referenced_not_rendered() -> None:
    """With existingSecret names the chart renders no Secret of its own and mounts yours."""
    manifests = render(ha_values())
    assert [m for m in manifests if m["kind"] == "Secret"] == []
    pod = _controller_pod(manifests)
    volumes = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    assert volumes["upstream-key"]["secretName"] == "warden-upstream"
    assert volumes["upstream-key"]["items"] == [{"key": "api-key", "path": "api-key"}]
    assert volumes["audit-key"]["secretName"] == "warden-audit-key"
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["audit-key"] == {
        "name": "audit-key", "mountPath": "/var/lib/warden/keys", "readOnly": True,
    }  # fmt: skip
