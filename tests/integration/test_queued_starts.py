"""Queued starts against real Docker, Claude Code and the scripted model: over the tenant
quota a start that asks to wait is ``queued``, and starts (prompt and all) once the
session ahead of it is deleted."""

from __future__ import annotations

import shutil
from pathlib import Path

from runner.policy.loader import shipped_policies_dir
from tests.integration.conftest import StartWarden


def test_a_queued_start_runs_when_the_place_frees(
    start_warden: StartWarden, tmp_path: Path
) -> None:
    """With one session per tenant, the second waits at position 1, not counted as running;
    deleting the first starts it, and its prompt is delivered."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("print('hello')\n")
    policies = tmp_path / "policies"
    shutil.copytree(shipped_policies_dir(), policies)
    (policies / "queued.yaml").write_text(
        "version: 1\nname: queued\nextends: default\ncontainer:\n  queue: true\n"
    )
    warden = start_warden(
        extra_env={"WARDEN_POLICIES_DIR": str(policies), "WARDEN_MAX_SESSIONS_PER_TENANT": "1"}
    )
    first = warden.create(project, prompt="hello first", policy="queued", queue=True)
    second = warden.create(project, prompt="hello second", policy="queued", queue=True)
    assert first["state"] == "starting"
    assert second["state"] == "queued", second
    assert second["details"]["queue"] == {"position": 1, "limit": "sessions_per_tenant"}
    warden.wait_for(first["id"], lambda s: s["state"] == "idle" and s["container"], timeout=180)
    assert warden.session(second["id"])["state"] == "queued"
    stats = warden.client.get("/v1/sessions/stats").json()
    assert stats["active"] == 2 and stats["byStatus"] == {"idle": 1, "unknown": 1}
    assert warden.client.delete(f"/v1/sessions/{first['id']}").status_code == 200
    ready = warden.wait_for(
        second["id"], lambda s: s["state"] == "idle" and s["container"], timeout=180
    )
    assert ready["promptDelivery"] == {"delivered": True, "attempts": 1}
    pane = warden.client.get(f"/v1/sessions/{second['id']}/pane").json()["text"]
    assert "Scripted reply to: hello second" in pane
    assert warden.client.delete(f"/v1/sessions/{second['id']}").status_code == 200
