"""A session's whole story with ``WARDEN_BACKEND=kubernetes``: a real ``warden serve``
drives the project's Kubernetes API stand-in (tests/kube/api.py) through the official
client, and the stand-in's kubelet runs each Pod in Docker from the real sandbox image
(init container, entrypoint, hook and gateway over the Pod "network"), with the Pod
template the Helm chart renders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml

from runner.sandbox.image import BuildResult
from tests.conftest import TEST_LABELS
from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer, free_port
from tests.integration.test_sessions_api import _project, run_story
from tests.kube.docker import DockerKubelet
from tests.kube.server import StandIn
from tests.unit.chart.chart_support import one, render, session_pod


@pytest.fixture
def cluster(
    tmp_path: Path, docker_client: docker.DockerClient, sandbox_image: BuildResult
) -> Iterator[tuple[StandIn, int]]:
    """The stand-in API server whose Pods run in Docker, and the gateway port they reach."""
    port = free_port()
    root = tmp_path / "node"
    root.mkdir()

    def kubelet() -> DockerKubelet:
        return DockerKubelet(docker_client, root, gateway_port=port,
                             net_image=sandbox_image.hash_tag, labels=TEST_LABELS)  # fmt: skip

    with StandIn(kubelet, tmp_path) as standin:
        yield standin, port


def _controller(start_warden: StartWarden, standin: StandIn, port: int, tmp: Path) -> WardenServer:
    template = tmp / "pod.yaml"
    template.write_text(yaml.safe_dump(session_pod(render())), encoding="utf-8")
    return start_warden(extra_env={
        "WARDEN_BACKEND": "kubernetes",
        "KUBECONFIG": str(standin.kubeconfig),
        "WARDEN_KUBERNETES_NAMESPACE": "warden-sessions",
        "WARDEN_KUBERNETES_GATEWAY_HOST": "127.0.0.1",
        "WARDEN_KUBERNETES_GATEWAY_PORT": str(port),
        "WARDEN_KUBERNETES_POD_TEMPLATE": str(template),
    })  # fmt: skip


def test_session_story_on_kubernetes(
    cluster: tuple[StandIn, int], start_warden: StartWarden, tmp_path: Path,
    docker_client: docker.DockerClient,
) -> None:  # fmt: skip
    """create → first prompt → Bash prompt approved → the patch pulled from the Pod →
    Write rejected → a question answered → transcript read through exec → delete with
    the artifacts collected before the Pod is gone."""
    standin, port = cluster
    warden = _controller(start_warden, standin, port, tmp_path)
    assert warden.client.get("/v1/health").json()["checks"]["sandbox"] == "ok"
    project = _project(tmp_path)

    deleted = run_story(warden, project, "k8s")

    sid = deleted["id"]
    sent = standin.pods.created[-1]
    assert sent["metadata"]["labels"]["warden.session"] == sid
    assert sent["metadata"]["labels"]["app.kubernetes.io/component"] == "session"
    assert sent["spec"]["automountServiceAccountToken"] is False
    assert [c["name"] for c in sent["spec"]["initContainers"]] == ["workspace"]
    assert standin.pods.pods == {}
    assert (
        docker_client.containers.list(
            all=True, filters={"label": f"warden.standin.pod={sent['metadata']['name']}"}
        )
        == []
    )
    names = {
        a["name"] for a in warden.client.get(f"/v1/sessions/{sid}/artifacts").json()["artifacts"]
    }
    assert {"changes.patch", "transcript.jsonl", "recording.cast", "workspace.tar.gz"} <= names
    patch = (warden.data_dir / "sessions" / sid / "artifacts" / "changes.patch").read_text()
    assert "+ran-k8s" in patch
    transcript = (warden.data_dir / "sessions" / sid / "artifacts" / "transcript.jsonl").read_text()
    assert any(json.loads(line).get("type") == "assistant" for line in transcript.splitlines())
    assert (project / "app.py").read_text() == "print('hello')\n"  # copy mode: untouched
    role = one(render(), "Role", "warden-sessions")
    granted = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    used = standin.pods.authorizations()
    assert {("pods", "create"), ("pods/exec", "get"), ("pods/attach", "get")} <= used
    assert used <= granted, used - granted  # the chart's Role is all the backend needs


def test_a_restarted_controller_readopts_its_pods(
    cluster: tuple[StandIn, int], start_warden: StartWarden, tmp_path: Path
) -> None:
    """After SIGKILL and restart the controller finds the Pod by its session label,
    re-attaches (the screen redrawn by a resize on channel 4), serves its gateway
    again, and the prompt waiting there is approved and runs."""
    standin, port = cluster
    first = _controller(start_warden, standin, port, tmp_path)
    sid = first.create(_project(tmp_path), prompt="hello")["id"]
    first.wait_state(sid, "idle", timeout=120)
    assert (
        first.post(sid, "send", {"text": "[[bash: echo adopted > proof.txt]]"}).status_code == 200
    )
    first.wait_state(sid, "permission_prompt")
    first.kill()
    resizes = len(standin.pods.resizes)

    second = start_warden(extra_env=first.env, port=first.port)
    back = second.wait_state(sid, "permission_prompt", timeout=30)
    assert "echo adopted > proof.txt" in back["details"]["command"]
    assert len(standin.pods.resizes) >= resizes + 2  # the redraw: smaller, then back
    assert second.post(sid, "approve").status_code == 200
    second.wait_state(sid, "idle")
    patch = second.client.get(f"/v1/sessions/{sid}/artifacts").json()["patch"]
    assert "+adopted" in patch
    assert second.client.delete(f"/v1/sessions/{sid}").status_code == 200
    assert standin.pods.pods == {}


def test_egress_from_a_pod_goes_through_the_gateway_port(
    cluster: tuple[StandIn, int], start_warden: StartWarden, tmp_path: Path
) -> None:
    """A Pod session whose policy allows a loopback server reaches it through the shared
    gateway port's front, routed to its own proxy by its token; audited with the rule."""
    from tests.integration.egress_servers import serve
    from tests.integration.test_egress import _policy

    standin, port = cluster
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "hello").write_text("hello from the pod's proxy\n")
    with serve(tmp_path / "site") as served:
        policies = tmp_path / "policies"
        policies.mkdir()
        rules = f"    - {{id: site, host: 127.0.0.1, ports: [{served.port}]}}"
        (policies / "net.yaml").write_text(_policy("net", rules))
        template = tmp_path / "pod.yaml"
        template.write_text(yaml.safe_dump(session_pod(render())), encoding="utf-8")
        warden = start_warden(extra_env={
            "WARDEN_BACKEND": "kubernetes", "KUBECONFIG": str(standin.kubeconfig),
            "WARDEN_KUBERNETES_NAMESPACE": "warden-sessions",
            "WARDEN_KUBERNETES_GATEWAY_HOST": "127.0.0.1",
            "WARDEN_KUBERNETES_GATEWAY_PORT": str(port),
            "WARDEN_KUBERNETES_POD_TEMPLATE": str(template),
            "WARDEN_POLICIES_DIR": str(policies),
        })  # fmt: skip
        sid = str(warden.create(_project(tmp_path), policy="net")["id"])
        warden.wait_state(sid, "idle", timeout=240)
        command = f"env -u NO_PROXY -u no_proxy curl -sS http://127.0.0.1:{served.port}/hello"
        assert warden.post(sid, "send", {"text": f"[[bash: {command}]]"}).status_code == 200

        def fetched(_session: dict[str, object]) -> bool:
            pane = warden.client.get(f"/v1/sessions/{sid}/pane").json()["text"]
            return "hello from the pod's proxy" in pane

        warden.wait_for(sid, fetched, timeout=150)
    events = warden.client.get(
        "/v1/audit", params={"session": sid, "type": "egress.allowed"}
    ).json()["events"]
    assert [e["data"]["rule"] for e in events if e["data"]["port"] == served.port] == ["site"]
