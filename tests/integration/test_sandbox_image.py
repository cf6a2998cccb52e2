"""The sandbox image: built offline and cached, with the expected contents and a
fail-closed PreToolUse hook."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import docker
import pytest

from runner.sandbox.image import BuildResult, build_image, default_image_dir, image_status
from runner.sandbox.statedir import SessionDir
from runner.settings import CLAUDE_CODE_VERSION, Settings
from tests.conftest import TEST_LABELS
from tests.integration.sandbox_support import (  # noqa: F401 (fixtures)
    Sandbox,
    SandboxFactory,
    make_sandbox,
    run,
    sandbox_image,
)

pytestmark = pytest.mark.docker


def _run_in_image(client: docker.DockerClient, image: str, script: str) -> str:
    output: bytes = client.containers.run(
        image, ["-c", script], entrypoint=["/bin/bash"], network_mode="none",
        labels=TEST_LABELS, remove=True, stdout=True, stderr=True,
    )  # fmt: skip
    return output.decode()


def test_second_build_is_a_cache_hit(
    sandbox_image: BuildResult,  # noqa: F811
    docker_client: docker.DockerClient,
) -> None:
    """Building again with nothing changed is skipped, fast, and names the same image."""
    started = time.monotonic()
    latest = Settings(image="warden-sandbox:latest")
    again = build_image(docker_client, latest)
    elapsed = time.monotonic() - started
    assert again.is_skipped
    assert again.image_id == docker_client.images.get(sandbox_image.hash_tag).id
    assert elapsed < 10, f"a cached build took {elapsed:.1f}s"
    status = image_status(docker_client, latest)
    assert status.is_built and status.is_tagged
    assert status.content_hash == sandbox_image.content_hash


def test_image_labels_and_contents(
    sandbox_image: BuildResult,  # noqa: F811
    docker_client: docker.DockerClient,
) -> None:
    """Labels carry hash and Claude version; tools, user and managed settings are in place."""
    image = docker_client.images.get(sandbox_image.hash_tag)
    assert image.labels["warden.image.hash"] == sandbox_image.content_hash
    assert image.labels["warden.claude.version"] == CLAUDE_CODE_VERSION
    assert image.attrs["Config"]["User"] == "warden"
    out = _run_in_image(
        docker_client, sandbox_image.hash_tag,
        "claude --version; id warden; command -v tmux socat tini jq curl ip git; "
        "cat /etc/claude-code/managed-settings.json",
    )  # fmt: skip
    assert f"{CLAUDE_CODE_VERSION} (Claude Code)" in out
    assert "uid=1000(warden) gid=1000(warden)" in out
    for tool in ("tmux", "socat", "tini", "jq", "curl", "ip", "git"):
        assert f"/{tool}\n" in out
    settings_text = out[out.index("{") :]
    shipped = json.loads((default_image_dir() / "managed-settings.json").read_text())
    assert json.loads(settings_text) == shipped
    hook = shipped["hooks"]["PreToolUse"][0]
    assert hook["matcher"] == "*"
    assert hook["hooks"][0]["command"] == "/usr/local/bin/warden-hook"


class _DecisionServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A stand-in for the gateway's decision endpoint on a unix socket (process boundary)."""

    daemon_threads = True
    status = 200
    body = b""
    requests: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: _DecisionServer

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.server.requests.append(
            {
                "path": self.path,
                "key": self.headers.get("x-api-key"),
                "body": self.rfile.read(length),
            }
        )
        self.send_response(self.server.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def address_string(self) -> str:
        return "sandbox"

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def decision_server(tmp_path: Path) -> Iterator[_DecisionServer]:
    """A decision server; the sandbox fixture moves its socket into the session run dir."""
    sock = tmp_path / "decision.sock"
    server = _DecisionServer(str(sock), _Handler)
    server.requests = []
    sock.chmod(0o666)  # the agent's uid must be able to connect
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def hook_sandbox(make_sandbox: SandboxFactory, decision_server: _DecisionServer) -> Sandbox:  # noqa: F811
    """A sandbox whose /run/warden/gateway.sock is the stand-in decision server."""

    def link_socket(state: SessionDir) -> None:
        Path(decision_server.server_address).rename(state.socket)  # type: ignore[arg-type]

    return make_sandbox(before_start=link_socket)


_ANSWER = b'{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "%s"}}'

HOOK_INPUT = {
    "session_id": "s",
    "hook_event_name": "PreToolUse",
    "tool_name": "Bash",
    "tool_input": {"command": "ls -la", "description": "list"},
    "tool_use_id": "toolu_1",
}


def _call_hook(
    sandbox: Sandbox, payload: dict[str, Any] | None = None
) -> tuple[dict[str, Any], str]:
    script = 'printf \'%s\' "$1" | /usr/local/bin/warden-hook; echo "exit=$?"'
    argv = ["bash", "-c", script, "hook", json.dumps(payload or HOOK_INPUT)]
    result = run(sandbox.backend.exec(sandbox.id, argv))
    decision_line, exit_line = result.stdout.strip().splitlines()[-2:]
    return json.loads(decision_line), exit_line


def _decision(answer: dict[str, Any]) -> str:
    return str(answer["hookSpecificOutput"]["permissionDecision"])


def test_hook_relays_a_valid_decision(
    hook_sandbox: Sandbox, decision_server: _DecisionServer
) -> None:
    """The hook posts the tool call with the session token and prints the gateway's answer."""
    allow = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow",
                                    "permissionDecisionReason": "rule r1"}}  # fmt: skip
    decision_server.body = json.dumps(allow).encode()
    answer, exit_line = _call_hook(hook_sandbox)
    assert answer == allow and exit_line == "exit=0"
    [request] = decision_server.requests
    assert request["path"] == "/v1/hooks/pre-tool-use"
    assert request["key"] == hook_sandbox.spec.token
    assert json.loads(request["body"]) == HOOK_INPUT


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b'{"error": "boom"}'),
        (200, b"<html>not json</html>"),
        (200, b'{"hookSpecificOutput": {"hookEventName": "PreToolUse"'),
        (
            200,
            b'{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "yes"}}',
        ),
        (200, b""),
        (200, _ANSWER % b"allow" + _ANSWER % b"deny"),
    ],
)
def test_hook_fails_closed_on_a_bad_answer(
    hook_sandbox: Sandbox, decision_server: _DecisionServer, status: int, body: bytes
) -> None:
    """Errors, non-JSON, truncated, unknown, empty or doubled answers all become deny."""
    decision_server.status, decision_server.body = status, body
    answer, exit_line = _call_hook(hook_sandbox)
    assert _decision(answer) == "deny" and exit_line == "exit=0"
    assert answer["hookSpecificOutput"]["permissionDecisionReason"].startswith("warden: ")


def test_hook_fails_closed_without_a_gateway(make_sandbox: SandboxFactory) -> None:  # noqa: F811
    """With no socket at all, the hook denies (it never exits 1, which would allow)."""
    sandbox = make_sandbox()
    answer, exit_line = _call_hook(sandbox)
    assert _decision(answer) == "deny" and exit_line == "exit=0"
    assert "unreachable" in answer["hookSpecificOutput"]["permissionDecisionReason"]
