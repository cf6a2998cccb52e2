"""One agent delegating into a Warden sandbox: the real Claude Code on the host, driven by
the scripted model, uses ``warden mcp`` (its ``--mcp-config``) to create a sandboxed
session (real Docker, the real Claude Code inside) and reads that session's reply."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runner.scripted.server import ScriptedModelServer
from tests.integration.conftest import StartWarden
from tests.integration.host_claude import HostClaude

pytestmark = [pytest.mark.docker, pytest.mark.claude]


def _tool_results(model: ScriptedModelServer) -> list[str]:
    """The tool results of the host agent's conversation so far, in order, as text (each
    request to its model carries the whole conversation)."""
    turns = [r for r in model.requests if r.path == "/v1/messages" and r.body.get("tools")]
    found: list[str] = []
    for message in turns[-1].body.get("messages", []) if turns else []:
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "tool_result":
                found.append(_text(block.get("content")))
    return found


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def _drafted(screen: str) -> bool:
    """Whether a tool prompt still waits in the input box (the line under the last rule)."""
    lines = screen.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("─" * 10)]
    return len(rules) >= 2 and lines[rules[-2] + 1].startswith("❯ [[tool:")


def _call(claude: HostClaude, model: ScriptedModelServer, tool: str, args: dict[str, Any]) -> str:
    """Have the host agent call one Warden tool; the result it got back."""
    before = len(_tool_results(model))
    asked = len(model.requests)
    prompt = f"[[tool: mcp__warden__{tool} {json.dumps(args)}]]"
    claude.submit(prompt, expect=prompt[:30], timeout=60)
    deadline = time.monotonic() + 240
    while len(results := _tool_results(model)) <= before:
        assert time.monotonic() < deadline, f"no result from {tool}:\n{claude.screen()}"
        time.sleep(1)
        if len(model.requests) == asked and _drafted(claude.screen()):
            claude.press("Enter")  # the earlier prompt's echo satisfied submit; Enter was lost
    claude.wait_for("? for shortcuts", timeout=60)
    return results[before]


def test_claude_code_delegates_into_a_sandbox_through_warden_mcp(
    claude_binary: Path,
    start_warden: StartWarden,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The host agent calls mcp__warden__create_session, then wait_for_state and
    read_transcript; the sandboxed session's own reply reaches the host agent."""
    warden = start_warden()
    # Claude Code gives an MCP server 30 s to start by default; a loaded CI machine can
    # take longer to import the controller (tmux hands this environment to claude).
    monkeypatch.setenv("MCP_TIMEOUT", "180000")
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("print('hello')\n")
    config = tmp_path / "mcp.json"
    server: dict[str, Any] = {
        "command": sys.executable,
        "args": ["-m", "runner.cli", "mcp"],
        "env": {"WARDEN_SERVER": warden.url, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
    }
    config.write_text(json.dumps({"mcpServers": {"warden": server}}))
    args = ("--mcp-config", str(config), "--allowedTools", "mcp__warden")
    create = {"workspace": str(project), "prompt": "Say hello from the sandbox"}
    with (
        ScriptedModelServer() as model,
        HostClaude(claude_binary, model.url, tmp_path / "host", args=args) as claude,
    ):
        deadline = time.monotonic() + 240
        # Claude Code connects to its MCP servers while it already takes prompts.
        while "No such tool available" in (
            created := _call(claude, model, "create_session", create)
        ):
            assert time.monotonic() < deadline, f"warden's MCP tools never came up: {created}"
            time.sleep(2)
        sessions = warden.client.get("/v1/sessions").json()["sessions"]
        assert len(sessions) == 1, (created, claude.screen())
        (session,) = sessions
        sid = session["id"]
        assert session["workDir"] == str(project)
        assert sid in created

        wait = {"session_id": sid, "states": ["idle"], "timeout_seconds": 150}
        assert json.loads(_call(claude, model, "wait_for_state", wait))["state"] == "idle"
        reply = "Scripted reply to: Say hello from the sandbox"
        deadline = time.monotonic() + 180
        # The sandbox's transcript is written a moment after its screen shows the reply.
        while reply not in (
            transcript := _call(claude, model, "read_transcript", {"session_id": sid})
        ):
            assert time.monotonic() < deadline, f"no reply in the transcript: {transcript[:2000]}"
            time.sleep(1)
        assert "The tool said:" in claude.screen()
    warden.client.delete(f"/v1/sessions/{sid}")
