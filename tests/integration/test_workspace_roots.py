"""The default workspace roots of a real ``warden serve`` with no WARDEN_WORKSPACE_ROOTS:
its start directory on loopback, nothing at all when it listens on other hosts."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import docker

from runner.sandbox.image import BuildResult
from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer, unmount_under


def _ready(server: WardenServer, sid: str) -> None:
    server.wait_for(sid, lambda s: (s["details"].get("workspace") or {}).get("phase") == "ready")


def test_a_loopback_server_accepts_its_start_directory_and_refuses_tmp(
    start_warden: StartWarden, tmp_path: Path
) -> None:
    """Started in a project directory: a subdirectory works, /tmp is refused (403), and the
    log says which root applies and how to change it."""
    start = tmp_path / "start"
    (start / "app").mkdir(parents=True)
    (start / "app" / "main.py").write_text("print(1)\n")
    server = start_warden(extra_env={"WARDEN_WORKSPACE_ROOTS": None}, cwd=start)
    created = server.client.post("/v1/sessions", json={"workDir": str(start / "app")})
    assert created.status_code == 201, created.text
    _ready(server, created.json()["id"])
    assert server.client.post("/v1/sessions", json={"workDir": "/tmp"}).status_code == 403
    beside = tmp_path / "beside"
    beside.mkdir()
    refused = server.client.post("/v1/sessions", json={"workDir": str(beside)})
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["rule"] == "server.workspace_roots"
    assert str(start) in refused.json()["error"]["message"]
    log = server.log.read_text()
    assert f"workspace roots: {start} (the directory the server started in" in log
    assert server.client.delete(f"/v1/sessions/{created.json()['id']}").status_code == 200


def _bootstrap(server: WardenServer) -> str:
    """An admin API token, made with ``warden tokens bootstrap`` before the server starts."""
    done = subprocess.run(
        [sys.executable, "-m", "runner.cli", "tokens", "bootstrap"],
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def test_a_server_on_all_interfaces_refuses_host_paths_but_takes_uploads(
    tmp_path: Path, sandbox_image: BuildResult, docker_client: docker.DockerClient
) -> None:
    """0.0.0.0 with auth and no roots: every host path is 403 (the message names the
    setting), while an uploaded archive starts a real session."""
    project = tmp_path / "project"
    project.mkdir()
    server = WardenServer(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'warden.db'}",
        extra_env={
            "WARDEN_WORKSPACE_ROOTS": None,
            "WARDEN_HOST": "0.0.0.0",  # noqa: S104 (the point of the test; auth is on)
            "WARDEN_AUTH_ENABLED": "true",
        },
        cwd=tmp_path,
    )
    token = _bootstrap(server)
    server.client.headers["Authorization"] = f"Bearer {token}"
    server.start()
    try:
        for path in (str(project), "/usr", "/opt"):
            refused = server.client.post("/v1/sessions", json={"workDir": path})
            assert refused.status_code == 403, refused.text
            message = refused.json()["error"]["message"]
            assert "accepts no host directory" in message and "WARDEN_WORKSPACE_ROOTS" in message
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            info = tarfile.TarInfo("main.py")
            info.size = 9
            tar.addfile(info, io.BytesIO(b"print(1)\n"))
        uploaded = server.client.post(
            "/v1/workspaces",
            content=archive.getvalue(),
            headers={"Content-Type": "application/gzip"},
        )
        assert uploaded.status_code == 201, uploaded.text
        created = server.client.post(
            "/v1/sessions", json={"workspace": {"archive": uploaded.json()["id"]}}
        )
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        server.wait_state(sid, "idle", timeout=120)
        assert server.client.delete(f"/v1/sessions/{sid}").status_code == 200
    finally:
        server.stop()
        unmount_under(tmp_path)
