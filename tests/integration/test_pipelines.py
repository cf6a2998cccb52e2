"""Pipelines over the REST API: real ``warden serve``, Docker, Claude Code, scripted model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.integration.ci_support import calc_project, ci_policies_dir
from tests.integration.conftest import StartWarden
from tests.integration.sandbox_support import sandbox_image  # noqa: F401 (fixture)
from tests.integration.server import WardenServer


@pytest.fixture
def server(tmp_path: Path, start_warden: StartWarden) -> WardenServer:
    policies = ci_policies_dir(tmp_path)
    return start_warden(extra_env={"WARDEN_POLICIES_DIR": str(policies)})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return calc_project(tmp_path)


def _finished(server: WardenServer, pipeline_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline: dict[str, Any] = server.client.get(f"/v1/pipelines/{pipeline_id}").json()
        if pipeline["state"] != "running":
            return pipeline
        time.sleep(1)
    raise AssertionError(f"pipeline still running: {pipeline}")


def _no_containers(docker_client: docker.DockerClient, session_id: str) -> bool:
    filters = {"label": f"warden.session={session_id}"}
    found: list[object] = docker_client.containers.list(all=True, filters=filters)
    return found == []


def test_implement_then_review_runs_in_order(
    server: WardenServer, project: Path, docker_client: docker.DockerClient
) -> None:
    """The review stage starts after implement succeeded and sees the code it wrote."""
    body = {
        "name": "implement-review",
        "workDir": str(project),
        "stages": [
            {
                "name": "review",
                "prompt": "[[bash: cat calc.py]]",
                "dependsOn": ["implement"],
                "workspaceFrom": "implement",
                "timeout": "120s",
            },
            {
                "name": "implement",
                "prompt": "[[edit: calc.py | a - b => a + b]] [[bash: sh run_tests.sh]]",
                "policy": "ci-tests",
                "timeout": "120s",
            },
        ],
    }
    created = server.client.post("/v1/pipelines", json=body)
    assert created.status_code == 201, created.text
    assert [s["state"] for s in created.json()["stages"]] == ["pending", "pending"]
    pipeline = _finished(server, created.json()["id"])
    stages = {s["name"]: s for s in pipeline["stages"]}
    assert pipeline["state"] == "succeeded", pipeline
    implement, review = stages["implement"], stages["review"]
    assert (implement["state"], implement["exitCode"]) == ("succeeded", 0)
    assert (review["state"], review["exitCode"]) == ("succeeded", 0)
    assert implement["endedAt"] <= review["startedAt"]
    assert implement["sessionId"] != review["sessionId"]
    assert implement["tokens"]["requests"] > 0
    turns = server.client.get(f"/v1/sessions/{review['sessionId']}/read").json()["turns"]
    results = "\n".join(r["content"] for t in turns for r in t["toolResults"])
    assert "return a + b" in results  # the reviewer read the implementer's fix
    implement_turns = server.client.get(f"/v1/sessions/{implement['sessionId']}/read").json()
    assert "1 passed" in str(implement_turns)
    assert (project / "calc.py").read_text().endswith("a - b\n")  # the original is untouched
    for stage in (implement, review):
        assert server.session(stage["sessionId"])["details"]["deleted"] is True
        assert _no_containers(docker_client, stage["sessionId"])
    listed = server.client.get("/v1/pipelines").json()["pipelines"]
    assert [p["id"] for p in listed] == [pipeline["id"]]


def test_stage_that_never_idles_fails_by_timeout_and_skips_dependents(
    server: WardenServer, project: Path, docker_client: docker.DockerClient
) -> None:
    """A stuck stage fails at its timeout (exit 3) instead of hanging; what needs it is skipped."""
    body = {
        "name": "stuck",
        "workDir": str(project),
        "stages": [
            {"name": "hang", "prompt": "[[slow: 600]]", "timeout": "15s"},
            {"name": "after", "prompt": "[[bash: ls]]", "dependsOn": ["hang"]},
        ],
    }
    created = server.client.post("/v1/pipelines", json=body)
    assert created.status_code == 201, created.text
    pipeline = _finished(server, created.json()["id"], timeout=120)
    stages = {s["name"]: s for s in pipeline["stages"]}
    assert pipeline["state"] == "failed"
    assert (stages["hang"]["state"], stages["hang"]["exitCode"]) == ("failed", 3)
    assert "timed out" in stages["hang"]["reason"]
    assert stages["after"]["state"] == "skipped" and stages["after"]["sessionId"] is None
    assert "hang did not succeed" in stages["after"]["reason"]
    assert _no_containers(docker_client, stages["hang"]["sessionId"])


def test_stopping_the_controller_fails_the_pipeline_and_removes_its_container(
    server: WardenServer, project: Path, docker_client: docker.DockerClient
) -> None:
    """A running stage at shutdown: its container goes, and after a restart it reads failed."""
    body = {
        "name": "interrupted",
        "workDir": str(project),
        "stages": [{"name": "long", "prompt": "[[slow: 600]]", "timeout": "10m"}],
    }
    created = server.client.post("/v1/pipelines", json=body)
    assert created.status_code == 201, created.text
    pipeline_id = created.json()["id"]
    deadline = time.monotonic() + 90
    session_id = None
    while session_id is None and time.monotonic() < deadline:
        stage = server.client.get(f"/v1/pipelines/{pipeline_id}").json()["stages"][0]
        if stage["sessionId"] and server.session(stage["sessionId"])["state"] == "working":
            session_id = stage["sessionId"]
        time.sleep(0.5)
    assert session_id is not None, "the stage never started working"
    server.stop()
    assert _no_containers(docker_client, session_id)
    server.start()
    pipeline = server.client.get(f"/v1/pipelines/{pipeline_id}").json()
    assert pipeline["state"] == "failed"
    assert pipeline["error"] == "the controller shut down while it ran"
    stage = pipeline["stages"][0]
    assert (stage["state"], stage["exitCode"], stage["sessionId"]) == ("failed", 5, session_id)
    assert "cancelled" in stage["reason"]
