"""A controller killed with SIGKILL comes back and re-adopts its running sessions."""

from __future__ import annotations

from pathlib import Path

import docker

from tests.integration.conftest import StartWarden


def _project(tmp_path: Path, name: str) -> Path:
    project = tmp_path / name
    project.mkdir()
    (project / "README").write_text(name + "\n")
    return project


def test_sigkilled_controller_readopts_three_sessions(
    start_warden: StartWarden, database_url: str, tmp_path: Path,
    docker_client: docker.DockerClient,
) -> None:  # fmt: skip
    """After SIGKILL and restart: idle, prompting and working sessions are back, and finish."""
    first = start_warden(database_url)
    idle = first.create(_project(tmp_path, "a"), prompt="stay idle")["id"]
    prompting = first.create(_project(tmp_path, "b"))["id"]
    working = first.create(_project(tmp_path, "c"))["id"]
    for sid in (idle, prompting, working):
        first.wait_state(sid, "idle", timeout=120)
    assert (
        first.post(prompting, "send", {"text": "[[bash: echo adopted > proof.txt]]"}).status_code
        == 200
    )
    first.wait_state(prompting, "permission_prompt")
    assert first.post(working, "send", {"text": "[[slow: 12]]"}).status_code == 200
    first.wait_state(working, "working")

    first.kill()
    containers = docker_client.containers.list(filters={"label": "warden.session"})
    assert {c.labels["warden.session"] for c in containers} >= {idle, prompting, working}

    # Same address and data: clients and containers keep working against it.
    second = start_warden(database_url, port=first.port)
    # On PostgreSQL the restarted controller is a new replica: it takes the sessions over
    # once the killed one's leases lapse. Until then the stored states are the old ones
    # and actions are refused, so wait until it runs each session.
    me = second.client.get("/v1/health").json()["replica"]
    for sid in (idle, prompting, working):
        second.wait_for(sid, lambda s: s.get("replica") in (me, None), timeout=60)
    assert second.wait_state(idle, "idle", timeout=20)["state"] == "idle"
    back = second.wait_state(prompting, "permission_prompt", timeout=20)
    assert "echo adopted > proof.txt" in back["details"]["command"]
    # The slow reply was still streaming: it finishes on the re-adopted session.
    second.wait_state(working, "working", "idle", timeout=20)
    second.wait_state(working, "idle", timeout=60)
    assert second.post(prompting, "approve").status_code == 200
    second.wait_state(prompting, "idle")
    patch = second.client.get(f"/v1/sessions/{prompting}/artifacts").json()["patch"]
    assert "+adopted" in patch
    assert second.post(idle, "send", {"text": "still there?"}).status_code == 200
    second.wait_for(
        idle,
        lambda s: (
            "Scripted reply to: still there?" in second.client.get(f"/v1/sessions/{idle}/pane").text
        ),
    )
