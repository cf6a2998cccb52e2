"""An Aegis client's calls, shaped as Aegis's README and API reference show them, against a
real ``warden serve``, real Docker, real Claude Code and the scripted model: each
answers in Aegis's shape (docs/aegis-compat.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer


def _keys(body: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if n not in body]
    assert not missing, f"missing {missing} in {body}"


def _pipeline_done(warden: WardenServer, pipeline_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        got: dict[str, Any] = warden.client.get(f"/v1/pipelines/{pipeline_id}").json()
        if got["status"] not in ("pending", "running"):
            return got
        time.sleep(1)
    raise AssertionError(f"pipeline {pipeline_id} did not finish: {got}")


def _session_routes(warden: WardenServer, project: Path) -> str:
    """Create, read, list, stats, health (idle and at a prompt) and summary."""
    c = warden.client
    health = c.get("/v1/health").json()
    _keys(health, "status", "version", "uptime", "platform", "timestamp")
    shake = c.post(
        "/v1/handshake",
        json={"protocolVersion": "1", "clientCapabilities": ["session.create", "sessions"]},
    ).json()
    _keys(shake, "protocolVersion", "serverCapabilities", "negotiatedCapabilities", "warnings")
    assert shake["compatible"] is True
    created = c.post(
        "/v1/sessions",
        json={
            "name": "feature-auth",
            "workDir": str(project),
            "prompt": "Build a login page with email/password fields.",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    _keys(body, "id", "name", "workDir", "status", "createdAt", "promptDelivery")
    assert (body["name"], body["workDir"]) == ("feature-auth", str(project))
    assert body["promptDelivery"] == {"delivered": False, "attempts": 0}
    sid = body["id"]
    ready = warden.wait_for(sid, lambda s: s["state"] == "idle" and s["container"], timeout=180)
    assert ready["status"] == "idle"
    assert ready["promptDelivery"] == {"delivered": True, "attempts": 1}

    listed = c.get(
        "/v1/sessions",
        params={"status": "idle", "workDir": str(project), "page": 1, "pageSize": 10},
    ).json()
    assert [s["id"] for s in listed["sessions"]] == [sid]
    assert listed["pagination"] == {
        "page": 1, "limit": 10, "pageSize": 10, "total": 1, "totalPages": 1,
    }  # fmt: skip
    stats = c.get("/v1/sessions/stats").json()
    _keys(stats, "active", "byStatus", "totalCreated", "totalCompleted", "totalFailed")
    assert stats["active"] == 1 and stats["byStatus"] == {"idle": 1}

    health = c.get(f"/v1/sessions/{sid}/health").json()
    _keys(health, "alive", "windowExists", "claudeRunning", "paneCommand", "status",
          "hasTranscript", "lastActivity", "lastActivityAgo", "sessionAge", "details")  # fmt: skip
    assert health["alive"] and health["windowExists"] and health["claudeRunning"]
    assert health["hasTranscript"] and health["status"] == "idle"
    assert f"POST /v1/sessions/{sid}/send" in health["details"]
    assert c.get("/v1/sessions/health").json()[sid]["status"] == "idle"

    asked = c.post(f"/v1/sessions/{sid}/send", json={"text": "[[bash: echo aegis > a.txt]]"})
    assert asked.status_code == 200, asked.text
    warden.wait_state(sid, "permission_prompt")
    at_prompt = c.get(f"/v1/sessions/{sid}/health").json()
    assert at_prompt["status"] == "permission_prompt"
    assert set(at_prompt["actionHints"]) == {"approve", "reject"}
    assert at_prompt["actionHints"]["approve"] == {
        "method": "POST",
        "url": f"/v1/sessions/{sid}/approve",
        "description": "Approve the pending permission",
    }
    assert c.post(f"/v1/sessions/{sid}/approve").status_code == 200
    warden.wait_state(sid, "idle")

    deadline = time.monotonic() + 20
    while True:
        summary = c.get(f"/v1/sessions/{sid}/summary").json()
        if summary["toolCalls"] >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    _keys(summary, "sessionId", "windowName", "status", "totalMessages", "messages",
          "createdAt", "lastActivity", "permissionMode")  # fmt: skip
    assert summary["windowName"] == "feature-auth" and summary["toolCalls"] >= 1
    assert summary["totalMessages"] >= 2
    roles = {m["role"] for m in summary["messages"]}
    assert {"user", "assistant"} <= roles, summary
    assert any("Build a login page" in m["text"] for m in summary["messages"])
    assert all(set(m) == {"role", "contentType", "text"} for m in summary["messages"])
    return sid


def _memory_templates_meta(warden: WardenServer, project: Path) -> None:
    c = warden.client
    wrote = c.post("/v1/memory", json={"key": "project/context", "value": "Using Fastify v5"})
    assert wrote.status_code == 200, wrote.text
    assert wrote.json()["ok"] is True
    _keys(wrote.json()["entry"], "key", "value", "namespace", "created_at", "updated_at")
    timed = c.post("/v1/memory", json={"key": "pipeline/run-1", "value": "ok", "ttlSeconds": 60})
    assert timed.json()["entry"]["expires_at"] > timed.json()["entry"]["updated_at"]
    listed = c.get("/v1/memory", params={"prefix": "project/"}).json()
    assert [e["key"] for e in listed["entries"]] == ["project/context"]
    assert c.get("/v1/memory/project/context").json()["value"] == "Using Fastify v5"
    assert c.delete("/v1/memory/project/context").status_code == 204

    template = c.post(
        "/v1/templates",
        json={
            "name": "code-review",
            "description": "Standard code review session",
            "prompt": "Review the repo for bugs and style issues",
            "workDir": str(project),
            "permissionMode": "default",
        },
    )
    assert template.status_code == 201, template.text
    _keys(template.json(), "id", "name", "description", "prompt", "workDir", "permissionMode")
    assert c.get("/v1/templates/code-review").json()["workDir"] == str(project)

    diagnostics = c.get("/v1/diagnostics", params={"limit": 20}).json()
    assert diagnostics["count"] == len(diagnostics["events"]) >= 1
    for event in diagnostics["events"]:
        _keys(event, "event", "level", "component", "operation", "timestamp", "attributes")
    metrics = c.get("/v1/metrics").json()
    _keys(metrics, "uptime", "sessions", "prompt_delivery", "pipelines_created", "latency")
    _keys(metrics["sessions"], "total_created", "currently_active", "completed", "failed",
          "avg_duration_sec")  # fmt: skip
    assert metrics["sessions"]["total_created"] >= 1
    assert metrics["token_usage"]["input_tokens"] > 0  # the scripted model's usage
    assert c.get("/metrics").headers["content-type"].startswith("text/plain")


def _pipeline(warden: WardenServer, project: Path) -> None:
    created = warden.client.post(
        "/v1/pipelines",
        json={
            "name": "build-and-test",
            "stages": [
                {"id": "tests", "prompt": "Run tests and fix failures", "workDir": str(project)},
                {"id": "lint", "prompt": "Run lint and fix issues", "workDir": str(project),
                 "dependencies": ["tests"]},
            ],
        },
    )  # fmt: skip
    assert created.status_code == 201, created.text
    _keys(created.json(), "id", "status", "stages")
    done = _pipeline_done(warden, created.json()["id"])
    assert done["status"] == "succeeded", done
    assert [s["name"] for s in done["stages"]] == ["tests", "lint"]
    assert done["stages"][1]["dependsOn"] == ["tests"]
    listed = warden.client.get("/v1/pipelines").json()["pipelines"]
    assert created.json()["id"] in [p["id"] for p in listed]


def test_every_aegis_route_answers_in_aegis_shape(
    start_warden: StartWarden, tmp_path: Path
) -> None:
    """Sessions (create, list filters, stats, health with hints, summary, kill), memory,
    templates, pipelines, health, diagnostics and metrics, as an Aegis client calls them."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("print('hello')\n")
    warden = start_warden()
    sid = _session_routes(warden, project)
    _memory_templates_meta(warden, project)
    _pipeline(warden, project)

    killed = warden.client.post(f"/v1/sessions/{sid}/kill")
    assert killed.status_code == 200, killed.text
    assert killed.json()["ok"] is True and killed.json()["state"] == "exited"
    after = warden.client.get(f"/v1/sessions/{sid}/health").json()
    assert after["alive"] is False and after["windowExists"] is False
    stats = warden.client.get("/v1/sessions/stats").json()
    assert stats["active"] == 0 and stats["totalCompleted"] >= 1
