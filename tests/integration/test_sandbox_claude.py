"""End to end: the real Claude Code in the sandbox reaches the scripted model only
through the per-session gateway socket, and the upstream key never enters the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import io
import secrets
import tarfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from runner.gateway.hooks import HookDecision, ToolCall
from runner.gateway.server import Gateway
from runner.sandbox.backend import SandboxInfo
from runner.sandbox.docker import DockerBackend
from runner.sandbox.image import BuildResult
from runner.sandbox.statedir import SessionDir, new_session_token, prepare_session_dir
from runner.scripted.server import ScriptedModelServer
from runner.terminal.classifier import classify
from runner.terminal.screen import TerminalScreen
from runner.terminal.states import State
from tests.integration.sandbox_support import sandbox_image, session_spec  # noqa: F401

pytestmark = [pytest.mark.docker, pytest.mark.claude]

COLS, ROWS = 120, 40


async def _decide(call: ToolCall) -> HookDecision:
    """A tiny policy for the test: echo may run, anything else is denied."""
    command = str(call.tool_input.get("command", ""))
    if call.tool_name == "Bash" and command.startswith("echo "):
        return HookDecision("allow", "echo is harmless", "test-allow-echo")
    return HookDecision("deny", "only echo is allowed here", "test-deny-rest")


@dataclass
class LiveSandbox:
    """A running session: container, gateway, model, and the screen read through attach."""

    backend: DockerBackend
    info: SandboxInfo
    state: SessionDir
    token: str
    gateway: Gateway
    model: ScriptedModelServer
    screen: TerminalScreen
    changed: asyncio.Event

    async def wait_for(self, predicate: Callable[[TerminalScreen], bool], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not predicate(self.screen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"screen never matched; it shows:\n{self.screen.text()}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 1.0))

    async def wait_for_text(self, text: str, seconds: float = 60.0) -> None:
        await self.wait_for(lambda screen: text in screen.text(), seconds)

    async def type_prompt(self, text: str) -> None:
        """Input through exec, as the controller does: literal keys, then Enter."""
        typed = await self.backend.exec(
            self.info.id, ["tmux", "send-keys", "-t", "main", "-l", text]
        )
        assert typed.exit_code == 0, typed.output
        await self.wait_for_text(text[:40], seconds=10)
        sent = await self.backend.exec(self.info.id, ["tmux", "send-keys", "-t", "main", "Enter"])
        assert sent.exit_code == 0, sent.output


@contextlib.asynccontextmanager
async def live_sandbox(
    client: docker.DockerClient, image: str, root: Path, upstream_key: str
) -> AsyncIterator[LiveSandbox]:
    session_id = f"test-{uuid.uuid4().hex[:12]}"
    work = root / "project"
    work.mkdir()
    (work / "README.md").write_text("a project\n")
    token = new_session_token()
    state = prepare_session_dir(
        root / session_id, work_dir=work, workspace_mode="copy", token=token
    )
    backend = DockerBackend(client)
    async with ScriptedModelServer() as model:
        gateway = Gateway(
            session_id=session_id, socket_path=state.socket, token=token,
            upstream_url=model.url, upstream_key=upstream_key, decide=_decide,
        )  # fmt: skip
        await gateway.start()
        spec = session_spec(image, session_id, state, token, cols=COLS, rows=ROWS)
        info = await backend.create(spec)
        screen, changed = TerminalScreen(COLS, ROWS), asyncio.Event()

        stream = await backend.attach(info.id)  # connected before start: no frame is lost

        async def pump() -> None:
            async for chunk in stream:
                screen.feed(chunk)
                changed.set()

        reader = asyncio.create_task(pump())
        try:
            await backend.start(info.id)
            yield LiveSandbox(backend, info, state, token, gateway, model, screen, changed)
        finally:
            await backend.remove(info.id)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await gateway.close()


def _is_idle(screen: TerminalScreen) -> bool:
    return classify(screen).state == State.IDLE


def _tar_text(client: docker.DockerClient, container_id: str, path: str) -> bytes:
    """Every file's bytes under ``path`` inside the container (tmpfs dirs included)."""
    stream, _ = client.api.get_archive(container_id, path)
    data = b"".join(stream)
    out = bytearray()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member) if member.isfile() else None
            if extracted is not None:
                out += extracted.read()
    return bytes(out)


def _host_tree_bytes(top: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in top.rglob("*") if p.is_file() and not p.is_symlink()]


def test_claude_in_the_sandbox_talks_to_the_model_only_through_the_gateway(
    docker_client: docker.DockerClient,
    sandbox_image: BuildResult,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Idle box via attach, a prompt via exec gets the scripted reply; the hook gates
    Bash through the gateway; usage is counted; the upstream key stays outside; the
    container is gone afterwards."""
    upstream_key = "sk-ant-upstream-" + secrets.token_hex(24)

    async def scenario() -> None:
        async with live_sandbox(docker_client, sandbox_image.hash_tag, tmp_path, upstream_key) as s:
            await s.wait_for(_is_idle, seconds=90)
            assert "manual mode on" in s.screen.text()  # --permission-mode default took

            await s.type_prompt("hello from inside the sandbox")
            await s.wait_for_text("Scripted reply to: hello from inside the sandbox")
            await s.wait_for(_is_idle, seconds=30)

            # The hook asks the gateway: echo is allowed and runs without a prompt...
            await s.type_prompt("[[bash: echo allowed-by-policy]]")
            await s.wait_for_text("The tool said: allowed-by-policy")
            await s.wait_for(_is_idle, seconds=30)
            # ...anything else is denied by the policy, so it never runs.
            await s.type_prompt("[[bash: touch /workspace/denied.txt]]")
            await s.wait_for_text("only echo is allowed here")
            await s.wait_for(_is_idle, seconds=30)
            assert not (s.state.workspace / "denied.txt").exists()

            # Every model call arrived through the gateway, with the real key injected.
            calls = [r for r in s.model.requests if r.path == "/v1/messages"]
            assert calls
            assert {r.headers.get("x-api-key") for r in calls} == {upstream_key}
            usage = s.gateway.usage.tokens
            assert usage.input_tokens > 0 and usage.output_tokens > 0

            environ = await s.backend.exec(
                s.info.id, ["bash", "-c", "cat /proc/[0-9]*/environ | tr '\\0' '\\n'"]
            )
            _assert_key_absent(docker_client, s, environ.stdout, upstream_key)
        # Leaving the session removed its container: none is left with its label.
        left = docker_client.containers.list(
            all=True, filters={"label": f"warden.session={s.info.session_id}"}
        )
        assert left == []
        assert not s.state.socket.exists()  # the gateway cleaned up its socket

    asyncio.run(scenario())


def _assert_key_absent(client: docker.DockerClient, s: LiveSandbox, environ: str, key: str) -> None:
    assert f"ANTHROPIC_API_KEY={s.token}" in environ  # we did read the processes' env
    assert key not in environ
    env = client.api.inspect_container(s.info.id)["Config"]["Env"]
    assert not any(key in item for item in env)
    # The only writable places: the mounted home and workspace, /tmp, /dev/shm.
    needle = key.encode()
    for top in (s.state.home, s.state.workspace):
        files = _host_tree_bytes(top)
        assert files, f"{top} is empty; the scan would prove nothing"
        assert not [p for p, data in files if needle in data]
    assert any(p.suffix == ".jsonl" for p, _ in _host_tree_bytes(s.state.home))  # transcript
    for path in ("/tmp", "/dev/shm"):
        assert needle not in _tar_text(client, s.info.id, path)
