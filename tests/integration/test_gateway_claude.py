"""The real Claude Code CLI talking to the model only through the gateway's unix socket."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from runner.gateway.hooks import HookDecision, ToolCall
from runner.gateway.server import Gateway
from runner.scripted.server import ScriptedModelServer
from tests.integration.host_claude import TEST_API_KEY, HostClaude

pytestmark = pytest.mark.claude

UPSTREAM_KEY = "sk-ant-upstream-secret-for-gateway-test"

# The in-sandbox hook, pointed at this test's socket: the same curl call as
# images/sandbox/warden-hook, with exit 2 (block) as its only failure path.
HOOK = """#!/bin/bash
curl --silent --fail --unix-socket {socket} -H 'content-type: application/json' \\
  -H "x-api-key: $ANTHROPIC_API_KEY" --data-binary @- http://warden/v1/hooks/pre-tool-use \\
  || exit 2
"""


class GatewayThread:
    """A Gateway served from its own event loop on a background thread."""

    def __init__(self, **options: Any) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.gateway = Gateway(on_event=self._record, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _record(self, name: str, data: dict[str, Any]) -> None:
        self.events.append((name, data))

    def __enter__(self) -> GatewayThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.gateway.start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.gateway.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextmanager
def forwarder(socket_path: Path) -> Iterator[str]:
    """socat from a loopback port to the gateway socket, as the sandbox entrypoint does."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    listen = f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr"
    proc = subprocess.Popen(["socat", listen, f"UNIX-CONNECT:{socket_path}"])
    try:
        for _ in range(50):
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            threading.Event().wait(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


async def deny_touch(call: ToolCall) -> HookDecision:
    """A tiny policy: Bash commands that touch files are denied, the rest asked."""
    if call.tool_name == "Bash" and "touch" in str(call.tool_input.get("command")):
        return HookDecision("deny", "no touching in this test", "test.no-touch")
    return HookDecision("ask", "not covered", None)


def test_claude_reaches_model_only_through_gateway(claude_binary: Path, tmp_path: Path) -> None:
    """Replies come via the socket; upstream sees only the real key; usage and a deny recorded."""
    socket_path = tmp_path / "run" / "gateway.sock"
    hook = tmp_path / "hook.sh"
    hook.write_text(HOOK.format(socket=socket_path))
    hook.chmod(0o755)
    settings = {"hooks": {"PreToolUse": [{"matcher": "*", "hooks": [
        {"type": "command", "command": str(hook)}]}]}}  # fmt: skip
    with ScriptedModelServer() as model, GatewayThread(
        session_id="s-gw", socket_path=socket_path, token=TEST_API_KEY,
        upstream_url=model.url, upstream_key=UPSTREAM_KEY, decide=deny_touch,
    ) as served, forwarder(socket_path) as base_url, HostClaude(
        claude_binary, base_url, tmp_path, settings=settings
    ) as claude:  # fmt: skip
        claude.submit("hello gateway", expect="Scripted reply to: hello gateway")
        screen = claude.submit("[[bash: touch nope.txt]]", expect="no touching in this test")
        claude.wait_for("The tool said:")
    assert "warden: test.no-touch: no touching in this test" in screen
    assert not (claude.workdir / "nope.txt").exists()
    upstream_keys = {r.headers.get("x-api-key") for r in model.requests}
    assert upstream_keys == {UPSTREAM_KEY}
    usage = served.gateway.usage
    assert usage.requests >= 3 and usage.input_tokens > 0 and usage.output_tokens > 0
    decisions = [d for name, d in served.events if name == "tool.decision"]
    assert [(d["tool_name"], d["decision"]) for d in decisions] == [("Bash", "deny")]
    assert decisions[0]["tool_input"]["command"] == "touch nope.txt"
