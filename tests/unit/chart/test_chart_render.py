"""The Helm chart renders with the real Helm engine, lints clean, validates against the
Kubernetes API schemas of the two newest versions kubernetes-validate knows, and
refuses values that would make an unsafe install."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest

from runner.settings import Settings
from tests.unit.chart.chart_support import (
    CHART,
    NAMESPACE,
    Manifest,
    ha_values,
    helm,
    one,
    render,
    render_error,
    session_pod,
)


def _newest_kubernetes_versions() -> list[str]:
    from kubernetes_validate import utils

    versions = sorted(set(utils.all_versions()), key=lambda v: tuple(int(p) for p in v.split(".")))
    return versions[-2:]


def _validate(manifest: Manifest, version: str) -> None:
    import kubernetes_validate

    # strict: an unknown field is an error too (a typo would otherwise be dropped silently).
    kubernetes_validate.validate(manifest, version, strict=True)


VALUE_SETS = {"default": lambda: {}, "ha": ha_values}


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_helm_lint_passes(values: str) -> None:
    """``helm lint`` finds no error and no warning for the default and the HA values."""
    report = helm().lint(str(CHART), values=VALUE_SETS[values](), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("version", _newest_kubernetes_versions())
@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_every_manifest_validates_against_the_kubernetes_schemas(values: str, version: str) -> None:
    """Each rendered object, and the session Pod template, is valid for that Kubernetes."""
    manifests = render(VALUE_SETS[values]())
    kinds = {m["kind"] for m in manifests}
    assert {"Deployment", "Service", "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy",
            "PodDisruptionBudget", "ConfigMap", "Namespace"} <= kinds  # fmt: skip
    for manifest in [*manifests, session_pod(manifests)]:
        _validate(manifest, version)


def test_the_schema_validator_catches_a_broken_manifest() -> None:
    """The validation above can fail: a misspelt field or a wrong type is refused."""
    import kubernetes_validate

    deployment = one(render(), "Deployment")
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["replica"] = 2
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "two"
    for broken in (misspelt, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            _validate(broken, _newest_kubernetes_versions()[-1])


def test_ha_values_render_replicas_on_postgres_with_rolling_updates() -> None:
    """The HA example: 3 replicas, the database URL from a Secret, no volume, rolling update."""
    manifests = render(ha_values())
    deployment = one(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["WARDEN_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "warden-database", "key": "database-url",
    }  # fmt: skip
    assert "WARDEN_AUTH_ISSUERS" in env
    assert not [m for m in manifests if m["kind"] == "PersistentVolumeClaim"]
    assert one(manifests, "PodDisruptionBudget")["spec"] == {
        "minAvailable": 2, "selector": deployment["spec"]["selector"],
    }  # fmt: skip


def test_sqlite_single_replica_recreates_instead_of_rolling() -> None:
    """With SQLite, an update never runs two controllers on one database file."""
    deployment = one(render(), "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "warden-data"


def test_more_than_one_replica_with_sqlite_fails_to_render() -> None:
    """replicaCount > 1 without an external PostgreSQL stops rendering, saying what to set."""
    message = render_error({"replicaCount": 2})
    assert "replicaCount=2 needs an external PostgreSQL" in message
    assert "database.url or database.existingSecret" in message


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"replicaCount": 2, "database": {"url": "postgresql://w:p@db/warden"}},
         "set persistence.enabled=false"),
        ({"persistence": {"enabled": False}}, "needs an external PostgreSQL"),
        ({"persistence": {"enabled": False}, "database": {"existingSecret": "db"}},
         "needs audit.signingKey"),
        ({"database": {"url": "mysql://db/warden"}}, "must be a postgresql:// URL"),
        ({"sessions": {"namespace": NAMESPACE}}, "sessions.namespace must differ"),
        ({"audit": {"signingKey": {"keyId": "0123456789abcdef"}}},
         "needs keyId, privateKey and publicKey together"),
        ({"upstream": {"apiKey": "k", "existingSecret": "s"}}, "not both"),
    ],
)  # fmt: skip
def test_unsafe_combinations_fail_to_render(values: dict[str, Any], expected: str) -> None:
    """Each unsafe combination of values fails with a message naming the fix."""
    assert expected in render_error(values)


@pytest.mark.parametrize("section", ["securityContext", "sessions"])
@pytest.mark.parametrize(
    "weaker",
    [
        {"allowPrivilegeEscalation": True},
        {"readOnlyRootFilesystem": False},
        {"runAsNonRoot": False},
        {"privileged": True},
        {"capabilities": {"drop": ["NET_RAW"]}},
        {"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}},
        {"seccompProfile": {"type": "Unconfined"}},
    ],
)
def test_schema_refuses_weaker_container_security(section: str, weaker: dict[str, Any]) -> None:
    """values.schema.json refuses any securityContext below "restricted", for both pod kinds."""
    values = {"securityContext": weaker} if section == "securityContext" else {
        "sessions": {"securityContext": weaker}
    }  # fmt: skip
    assert "values don't meet the specifications of the schema" in render_error(values)


@pytest.mark.parametrize("section", ["podSecurityContext", "sessions"])
def test_schema_refuses_a_root_pod(section: str) -> None:
    """A Pod securityContext running as root is refused for the controller and the sessions."""
    root = {"runAsUser": 0, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    values = {section: root} if section == "podSecurityContext" else {
        "sessions": {"podSecurityContext": root}
    }  # fmt: skip
    assert "schema" in render_error(values)


def test_the_controller_env_names_only_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every WARDEN_* variable the chart sets is a setting, and the values parse as Settings."""
    deployment = one(render(ha_values()), "Deployment")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    names = [e["name"] for e in env]
    assert all(n.startswith("WARDEN_") for n in names)
    fields = {n.removeprefix("WARDEN_").lower() for n in names}
    assert fields <= set(Settings.model_fields), fields - set(Settings.model_fields)
    for name in [n for n in os.environ if n.startswith("WARDEN_")]:
        monkeypatch.delenv(name)
    for entry in env:
        if "value" in entry:
            monkeypatch.setenv(entry["name"], entry["value"])
    monkeypatch.setenv("WARDEN_KUBERNETES_GATEWAY_HOST", "10.0.0.7")  # the downward API's
    settings = Settings()
    assert settings.backend == "kubernetes"
    assert settings.kubernetes_namespace == "warden-sessions"
    assert settings.kubernetes_gateway_port == 8788
    assert settings.auth_enforced and settings.auth_issuers[0].audience == "warden"
    assert str(settings.kubernetes_pod_template) == "/etc/warden/session-pod/pod.yaml"
