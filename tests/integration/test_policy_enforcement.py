"""Policies enforced on real sessions: at creation, at the hook, and at the prompt.

Real ``warden serve``, Docker, Claude Code and the scripted model; every decision is
then looked up in the audit ledger through ``/v1/audit``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from runner.policy import shipped_policies_dir
from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer

QUICK_POLICY = """\
version: 1
name: quick
description: default, with a 3 second approval timeout (to test the fallback)
extends: default
approvals:
  timeout_seconds: 3
tests:
  - {name: shell asks, tool: Bash, input: {command: ls}, expect: ask}
"""


@pytest.fixture
def server(tmp_path: Path, start_warden: StartWarden) -> WardenServer:
    """A controller whose policy directory holds the shipped policies plus ``quick``."""
    policies = tmp_path / "policies"
    shutil.copytree(shipped_policies_dir(), policies)
    (policies / "quick.yaml").write_text(QUICK_POLICY)
    return start_warden(extra_env={"WARDEN_POLICIES_DIR": str(policies)})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    (path / "main.py").write_text("print('hi')\n")
    return path


def _audit(warden: WardenServer, sid: str, type: str) -> list[dict[str, Any]]:
    response = warden.client.get("/v1/audit", params={"session": sid, "type": type, "limit": 1000})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def _ready(warden: WardenServer, project: Path, **body: Any) -> str:
    session = warden.create(project, **body)
    warden.wait_state(session["id"], "idle", timeout=120)
    return str(session["id"])


def _turn(warden: WardenServer, sid: str, text: str) -> dict[str, Any]:
    assert warden.post(sid, "send", {"text": text}).status_code == 200
    return warden.wait_state(sid, "idle", "permission_prompt", "asking")


def _workspace(warden: WardenServer, sid: str) -> Path:
    return warden.data_dir / "sessions" / sid / "workspace"


def test_ci_policy_denies_curl_at_the_hook(server: WardenServer, project: Path) -> None:
    """Under ci, a scripted curl is denied by the hook: not run, audited with the rule."""
    sid = _ready(server, project, policy="ci", unattended=True)
    final = _turn(server, sid, "[[bash: curl -s http://example.com -o fetched.html]]")
    assert final["state"] == "idle"
    pane = server.client.get(f"/v1/sessions/{sid}/pane").json()["text"]
    assert "net-curl" in pane
    assert not (_workspace(server, sid) / "fetched.html").exists()
    decisions = _audit(server, sid, "tool.decision")
    denied = [d for d in decisions if d["data"]["decision"] == "deny"]
    assert denied and denied[0]["data"]["rule"] == "net-curl"
    assert "curl" in denied[0]["data"]["tool_input"]["command"]


def test_ci_policy_runs_allowed_pytest_without_a_prompt(
    server: WardenServer, project: Path
) -> None:
    """An allowed pytest call runs straight away: no permission prompt ever shows."""
    sid = _ready(server, project, policy="ci", unattended=True)
    assert server.post(sid, "send", {"text": "[[bash: pytest -q]]"}).status_code == 200
    server.wait_state(sid, "idle")
    states = [e["data"]["state"] for e in _audit(server, sid, "session.state")]
    assert "permission_prompt" not in states
    allowed = [d for d in _audit(server, sid, "tool.decision") if d["data"]["decision"] == "allow"]
    assert allowed and allowed[0]["data"]["tool_input"]["command"] == "pytest -q"
    turns = server.client.get(f"/v1/sessions/{sid}/read").json()["turns"]
    results = " ".join(r["content"] for t in turns for r in t["toolResults"])
    assert "pytest" in results  # bash ran it (the image has no pytest: "command not found")


def test_unanswered_prompt_times_out_and_is_denied(server: WardenServer, project: Path) -> None:
    """An ask under a default-derived policy waits its timeout, then the fallback denies."""
    sid = _ready(server, project, policy="quick")
    prompt = _turn(server, sid, "[[bash: touch late.txt]]")
    assert prompt["state"] == "permission_prompt"
    started = time.monotonic()
    server.wait_state(sid, "idle", timeout=30)
    assert time.monotonic() - started >= 2.0
    assert not (_workspace(server, sid) / "late.txt").exists()
    timeouts = _audit(server, sid, "permission.timeout")
    assert timeouts and timeouts[0]["data"]["rule"] == "approvals.timeout"
    decided = _audit(server, sid, "permission.decided")
    assert decided[-1]["data"]["decision"] == "reject" and decided[-1]["actor"] == "system"


def test_human_approval_goes_through_and_names_the_approver(
    server: WardenServer, project: Path
) -> None:
    """An approver's approval runs the command; the ledger names who approved."""
    sid = _ready(server, project, policy="default")
    assert _turn(server, sid, "[[bash: touch approved.txt]]")["state"] == "permission_prompt"
    assert server.post(sid, "approve").status_code == 200
    server.wait_state(sid, "idle")
    assert (_workspace(server, sid) / "approved.txt").exists()
    decided = _audit(server, sid, "permission.decided")
    assert decided[-1]["data"]["decision"] == "approve"
    assert decided[-1]["actor"] == "local"
    # What was approved is the hook's call, named by its request id, not the screen.
    assert decided[-1]["data"]["tool_input"]["command"] == "touch approved.txt"
    asked_hook = [d for d in _audit(server, sid, "tool.decision") if d["data"]["decision"] == "ask"]
    assert decided[-1]["data"]["request"] == asked_hook[-1]["data"]["request"]
    asked = _audit(server, sid, "permission.asked")
    assert "touch approved.txt" in asked[-1]["data"]["prompt"]["command"]


def test_session_outside_policy_is_refused_with_rule(server: WardenServer, project: Path) -> None:
    """An image the policy does not allow → 403 naming the rule, and an audit event."""
    response = server.client.post(
        "/v1/sessions", json={"workDir": str(project), "policy": "ci", "image": "debian:bookworm"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["details"]["rule"] == "container.images"
    unknown = server.client.post(
        "/v1/sessions", json={"workDir": str(project), "policy": "../etc/passwd"}
    )
    # No such policy (a path is never a policy name): 404, as for any unknown resource.
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["error"]["code"] == "not_found"
    denied = server.client.get("/v1/audit", params={"type": "session.denied"}).json()["events"]
    assert denied and denied[-1]["data"]["rule"] == "container.images"


def _model_calls(warden: WardenServer) -> int:
    """Model calls the controller has relayed so far (each logs one line as it starts)."""
    return warden.log.read_text().count("POST http")


def test_unreachable_decision_endpoint_blocks_the_tool(server: WardenServer, project: Path) -> None:
    """With the gateway socket gone when the hook runs, the tool is blocked, not run."""
    sid = _ready(server, project, policy="permissive-dev")
    socket = server.data_dir / "sessions" / sid / "run" / "gateway.sock"
    calls = _model_calls(server)
    # The reply streams for 5 s before its tool call: take the socket away meanwhile
    # (the streaming connection stays up; the hook's new connection cannot be made).
    text = "[[slow: 5]] [[bash: touch blocked.txt]]"
    assert server.post(sid, "send", {"text": text}).status_code == 200
    deadline = time.monotonic() + 20
    while _model_calls(server) == calls:
        assert time.monotonic() < deadline, "the model call never started"
        time.sleep(0.05)
    hidden = socket.with_name("gateway.sock.off")
    socket.rename(hidden)
    try:
        deadline = time.monotonic() + 30
        # The hook's own deny reason, not just "hook": Claude Code shows "Running
        # PreToolUse hook…" while the hook still runs, and the socket must stay away
        # until the hook has been refused.
        while "unreachable" not in server.client.get(f"/v1/sessions/{sid}/pane").text:
            assert time.monotonic() < deadline, server.client.get(f"/v1/sessions/{sid}/pane").text
            time.sleep(0.3)
    finally:
        hidden.rename(socket)
    server.wait_state(sid, "idle", timeout=90)
    assert not (_workspace(server, sid) / "blocked.txt").exists()


def test_policies_api_lists_shows_and_explains(server: WardenServer, project: Path) -> None:
    """GET /v1/policies, GET /v1/policies/{name}, POST …/explain; unknown names are 404."""
    names = {p["name"] for p in server.client.get("/v1/policies").json()["policies"]}
    assert {"default", "ci", "strict", "permissive-dev", "quick"} <= names
    quick = server.client.get("/v1/policies/quick").json()
    assert quick["extends"] == "default" and quick["approvals"]["timeout_seconds"] == 3
    explained = server.client.post(
        "/v1/policies/ci/explain", json={"tool": "Bash", "input": {"command": "ls && curl x"}}
    )
    assert explained.status_code == 200
    body = explained.json()
    assert (body["decision"], body["rule"]) == ("deny", "net-curl")
    assert body["trace"]
    assert server.client.get("/v1/policies/nope").status_code == 404
    assert (
        server.client.post(
            "/v1/policies/nope/explain", json={"tool": "Bash", "input": {}}
        ).status_code
        == 404
    )


def test_model_outside_policy_is_refused_at_creation(server: WardenServer, project: Path) -> None:
    """A session asking for a model the policy does not allow is refused (403, model.allowed)."""
    response = server.client.post(
        "/v1/sessions", json={"workDir": str(project), "policy": "ci", "model": "gpt-4o"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["details"]["rule"] == "model.allowed"
