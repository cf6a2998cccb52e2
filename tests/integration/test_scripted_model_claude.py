"""The real Claude Code CLI, on the host, against the scripted model."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.scripted.server import ScriptedModelServer
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
        screen = claude.submit("[[bash: touch made-by-bash.txt]]", expect="Esc to cancel")
        assert "Bash command" in screen and "Do you want to proceed?" in screen
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
        screen = claude.submit("[[write: hello.py | print(1)]]", expect="Esc to cancel")
        assert "Create file" in screen and "Do you want to create hello.py?" in screen
        claude.answer("1", dialog="Do you want to create")
        claude.wait_for("File created successfully")
        assert (claude.workdir / "hello.py").read_text() == "print(1)"


def test_edit_directive_shows_diff_and_edits(claude_binary: Path, tmp_path: Path) -> None:
    """[[edit: PATH | OLD => NEW]] shows Claude Code's Edit prompt; Yes applies the change."""
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "app.py").write_text("x = 1\n")
    with (
        ScriptedModelServer() as model,
        HostClaude(claude_binary, model.url, tmp_path) as claude,
    ):
        claude.submit("[[edit: app.py | x = 1 => x = 2]]", expect="make this edit")
        screen = claude.wait_for("Esc to cancel")  # the dialog fully drawn
        assert "Edit file" in screen and "+x = 2" in screen
        assert (claude.workdir / "app.py").read_text() == "x = 1\n"
        claude.answer("1", dialog="make this edit")
        claude.wait_for("The tool said: The file")
        assert (claude.workdir / "app.py").read_text() == "x = 2\n"


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


def test_slow_reply_keeps_claude_working(claude_binary: Path, tmp_path: Path) -> None:
    """[[slow: 5]] holds Claude Code in its working state before the text completes."""
    with (
        ScriptedModelServer() as model,
        HostClaude(claude_binary, model.url, tmp_path) as claude,
    ):
        screen = claude.submit("[[slow: 5]]", expect="esc to interrupt")
        assert "streamed over 5s" not in screen
        claude.wait_for("streamed over 5s", timeout=20)


def test_server_error_shows_retry_screen(claude_binary: Path, tmp_path: Path) -> None:
    """[[error: 500]] shows Claude Code's retry line: "API error" first, then the status text."""
    with (
        ScriptedModelServer() as model,
        HostClaude(claude_binary, model.url, tmp_path) as claude,
    ):
        claude.submit("[[error: 500]]", expect="retrying in")
        screen = claude.wait_for("500 Internal server error · retrying in", timeout=20)
        assert "esc to interrupt" in screen
