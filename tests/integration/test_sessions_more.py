"""More of the sessions surface against a real server: batches, the CLI, stalls, doctor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer


@pytest.fixture
def server(start_warden: StartWarden) -> WardenServer:
    """A controller that calls a session stalled after 3 s without a screen change."""
    return start_warden(extra_env={"WARDEN_STALL_SECONDS": "3"})


def _dir(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def _cli(warden: WardenServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WARDEN_SERVER": warden.url}
    return subprocess.run(
        [sys.executable, "-m", "runner.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_batch_creates_each_item_on_its_own(server: WardenServer, tmp_path: Path) -> None:
    """A batch starts the valid items and reports the invalid one, without failing the rest."""
    body = {
        "sessions": [
            {"workDir": str(_dir(tmp_path, "a")), "prompt": "batch a"},
            {"workDir": str(tmp_path / "missing")},
            {"workDir": str(_dir(tmp_path, "b")), "prompt": "batch b"},
        ]
    }
    response = server.client.post("/v1/sessions/batch", json=body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    # A workDir that is no directory is not found (404), as the single create says.
    assert results[1]["error"]["code"] == "not_found" and results[1]["session"] is None
    for item, tag in ((results[0], "a"), (results[2], "b")):
        sid = item["session"]["id"]
        server.wait_for(
            sid,
            lambda s, tag=tag: (
                f"Scripted reply to: batch {tag}"
                in server.client.get(f"/v1/sessions/{s['id']}/pane").text
            ),
        )
        assert server.client.delete(f"/v1/sessions/{sid}").status_code == 200


def test_cli_drives_a_session(server: WardenServer, tmp_path: Path) -> None:
    """warden sessions create/list/send/show/approve/kill work against the server."""
    created = _cli(server, "sessions", "create", str(_dir(tmp_path, "cli")), "--json")
    assert created.returncode == 0, created.stderr
    sid = json.loads(created.stdout)["id"]
    server.wait_state(sid, "idle", timeout=120)
    listed = _cli(server, "sessions", "list", "--json")
    assert sid in [s["id"] for s in json.loads(listed.stdout)]
    sent = _cli(server, "sessions", "send", sid, "[[bash: touch from-cli.txt]]")
    assert sent.returncode == 0, sent.stderr
    server.wait_state(sid, "permission_prompt")
    shown = _cli(server, "sessions", "show", sid)
    assert "permission_prompt" in shown.stdout and "touch from-cli.txt" in shown.stdout
    refused = _cli(server, "sessions", "send", sid, "too early")
    assert refused.returncode == 1 and "409" in refused.stderr
    approved = _cli(server, "sessions", "approve", sid)
    assert approved.returncode == 0, approved.stderr
    server.wait_state(sid, "idle")
    env = {**os.environ, "WARDEN_SERVER": server.url}
    watch = subprocess.Popen(
        [sys.executable, "-m", "runner.cli", "sessions", "watch", sid, "--interval", "0.2"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert watch.stdout is not None
    first = watch.stdout.readline()  # watch has started (and seen idle): now end the session
    killed = _cli(server, "sessions", "kill", sid)
    assert killed.returncode == 0, killed.stderr
    rest, _ = watch.communicate(timeout=30)  # watch ends by itself once the session ends
    watched = first + rest
    assert watch.returncode == 0
    assert "idle" in watched and "exited" in watched
    patch = server.client.get(f"/v1/sessions/{sid}/artifacts/changes.patch").text
    assert "from-cli.txt" in patch
    missing = _cli(server, "sessions", "show", "no-such-session")
    assert missing.returncode == 1 and "404" in missing.stderr


def test_frozen_agent_is_reported_stalled(
    server: WardenServer, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """Working with no screen change for stallSeconds → stalled; moving again → not stalled."""
    sid = server.create(_dir(tmp_path, "stall"))["id"]
    server.wait_state(sid, "idle", timeout=120)
    assert server.post(sid, "send", {"text": "[[slow: 40]]"}).status_code == 200
    server.wait_state(sid, "working")
    container = docker_client.containers.get(server.session(sid)["container"])
    container.pause()  # the spinner stops: the screen freezes as a hung agent's would
    try:
        stalled: dict[str, Any] = server.wait_state(sid, "stalled", timeout=20)
        assert stalled["details"]["secondsWithoutChange"] >= 3
    finally:
        container.unpause()
    server.wait_state(sid, "working", "idle", timeout=20)
    assert server.client.post(f"/v1/sessions/{sid}/interrupt").status_code == 200
    server.wait_state(sid, "idle", timeout=20)


def test_doctor_reports_a_ready_machine(server: WardenServer) -> None:
    """warden doctor passes every check where the suite runs (Docker, image, Claude, model,
    DB, disk)."""
    env = {
        **os.environ,
        "WARDEN_DATA_DIR": str(server.data_dir),
        "WARDEN_MODEL_UPSTREAM": "scripted",
        "WARDEN_DATABASE_URL": server.env["WARDEN_DATABASE_URL"],
    }
    result = subprocess.run(
        [sys.executable, "-m", "runner.cli", "doctor"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("docker", "image", "claude", "model", "database", "disk"):
        assert f"ok   {check}" in result.stdout
