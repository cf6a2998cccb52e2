"""The real Claude Code CLI, on the host, against the scripted model."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.gateway.scripted import ScriptedModelServer
from tests.integration.host_claude import HostClaude

pytestmark = pytest.mark.claude


def test_text_reply_shows_on_screen(claude_binary: Path, tmp_path: Path) -> None:
    """A plain prompt gets the scripted text reply rendered by Claude Code."""
    with (
        ScriptedModelServer() as model,
        HostClaude(claude_binary, model.url, tmp_path) as claude,
    ):
        screen = claude.submit("hello scripted world", expect="Scripted reply to: hello")
        assert "● Scripted reply to: hello scripted world" in screen
        turns = [r for r in model.requests if r.path == "/v1/messages" and r.body.get("tools")]
        assert turns and turns[-1].headers["x-api-key"].startswith("test-key-")


def test_bash_directive_shows_permission_prompt(claude_binary: Path, tmp_path: Path) -> None:
    """[[bash: ...]] makes Claude Code ask permission, and the result is quoted after Yes."""
    with (
        ScriptedModelServer() as model,
        HostClaude(claude_binary, model.url, tmp_path) as claude,
    ):
        screen = claude.submit("[[bash: touch made-by-bash.txt]]", expect="Do you want to proceed?")
        assert "Bash command" in screen
        assert "touch made-by-bash.txt" in screen
        assert not (claude.workdir / "made-by-bash.txt").exists()
        claude.answer("1", dialog="Do you want to proceed?")
        claude.wait_for("The tool said:")
        assert (claude.workdir / "made-by-bash.txt").exists()


def test_write_directive_creates_file_after_approval(claude_binary: Path, tmp_path: Path) -> None:
    """[[write: PATH | CONTENT]] with a relative path shows Create file and writes into the cwd."""
    with (
        ScriptedModelServer() as model,
        HostClaude(claude_binary, model.url, tmp_path) as claude,
    ):
        screen = claude.submit("[[write: hello.py | print(1)]]", expect="Do you want to create")
        assert "Create file" in screen
        claude.answer("1", dialog="Do you want to create")
        claude.wait_for("File created successfully")
        assert (claude.workdir / "hello.py").read_text() == "print(1)"


def test_ask_directive_shows_question(claude_binary: Path, tmp_path: Path) -> None:
    """[[ask: ...]] renders AskUserQuestion with the options, and the answer is quoted back."""
    with (
        ScriptedModelServer() as model,
        HostClaude(claude_binary, model.url, tmp_path) as claude,
    ):
        prompt = "[[ask: Which color? | Red | Blue]]"
        screen = claude.submit(prompt, expect="Enter to select")
        assert "Which color?" in screen and "1. Red" in screen and "2. Blue" in screen
        claude.answer("2", dialog="Enter to select")
        claude.wait_for('"Which color?"="Blue"')
