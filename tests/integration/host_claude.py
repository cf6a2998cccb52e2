"""The real Claude Code CLI run on the host in a private tmux server, for tests.

Used against the scripted model: pre-seeds ``$HOME/.claude.json`` so no onboarding,
API-key or trust dialog appears (see CLAUDE-CODE.md), then drives it with send-keys
and reads it with capture-pane.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.polling import wait_for_text

TEST_API_KEY = "test-key-scripted-0123456789abcdef"


def seed_home(home: Path, workdir: Path, api_key: str = TEST_API_KEY) -> None:
    """Write the ``.claude.json`` that pre-empts Claude Code's first-run dialogs."""
    home.mkdir(parents=True, exist_ok=True)
    state = {
        "hasCompletedOnboarding": True,
        "theme": "dark",
        "customApiKeyResponses": {"approved": [api_key[-20:]], "rejected": []},
        "projects": {str(workdir): {"hasTrustDialogAccepted": True}},
    }
    (home / ".claude.json").write_text(json.dumps(state), encoding="utf-8")


class HostClaude:
    """Claude Code in ``tmux -L <unique socket>``; the tmux server is killed on exit."""

    def __init__(
        self,
        binary: Path,
        base_url: str,
        root: Path,
        *,
        cols: int = 120,
        settings: dict[str, Any] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        """``args`` are further command-line arguments for ``claude`` (``--mcp-config``…)."""
        self.workdir = root / "work"
        self.home = root / "home"
        self.workdir.mkdir(parents=True, exist_ok=True)
        seed_home(self.home, self.workdir)
        if settings is not None:  # user settings, e.g. hooks (the sandbox uses managed ones)
            (self.home / ".claude").mkdir(exist_ok=True)
            (self.home / ".claude" / "settings.json").write_text(json.dumps(settings))
        self.socket = f"warden-test-{uuid.uuid4().hex[:10]}"
        env = {
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_API_KEY": TEST_API_KEY,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "HOME": str(self.home),
        }
        env_args = [f"{k}={v}" for k, v in env.items()]
        command = ["env", *env_args, str(binary), "--permission-mode", "default", *args]
        self._tmux("new-session", "-d", "-s", "main", "-x", str(cols), "-y", "40",
                   "-c", str(self.workdir), *command)  # fmt: skip

    def __enter__(self) -> HostClaude:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], check=False, capture_output=True)

    def screen(self) -> str:
        """The visible screen as text."""
        return self._tmux("capture-pane", "-p", "-t", "main")

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        """Wait until ``text`` is on screen; return the screen (fail with it shown)."""
        return wait_for_text(self.screen, text, timeout=timeout, interval=0.2)

    def submit(self, prompt: str, expect: str, timeout: float = 30.0) -> str:
        """Type ``prompt``, press Enter until it is taken, and wait for ``expect``."""
        self.wait_for("? for shortcuts")
        self._tmux("send-keys", "-t", "main", "-l", prompt)
        self.wait_for(prompt[:30])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._tmux("send-keys", "-t", "main", "Enter")
            try:
                return self.wait_for(expect, timeout=3.0)
            except AssertionError:
                if _draft_line(self.screen()) != prompt:
                    return self.wait_for(expect, timeout=max(0.1, deadline - time.monotonic()))
        raise AssertionError(f"{expect!r} did not appear; screen:\n{self.screen()}")

    def answer(self, key: str, dialog: str, timeout: float = 20.0) -> None:
        """Press ``key`` until the dialog showing ``dialog`` text goes away.

        A key sent the instant a dialog renders can be dropped, so a still-open dialog
        gets the key again; a closed one never does (no double answers).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._tmux("send-keys", "-t", "main", key)
            for _ in range(10):
                time.sleep(0.2)
                if dialog not in self.screen():
                    return
        raise AssertionError(f"dialog {dialog!r} did not close; screen:\n{self.screen()}")

    def press(self, key: str) -> None:
        """Send one key (tmux key name, e.g. ``Enter``)."""
        self._tmux("send-keys", "-t", "main", key)

    def _tmux(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True
        )
        return proc.stdout


def _draft_line(screen: str) -> str:
    """What sits in the idle input box, or ``""`` when no input box is shown.

    The box is the prompt-marker line right under a horizontal rule. Echoed prompts in
    the history and dialog options also carry the marker, but not under a rule; taking
    one of them for the draft would make ``submit`` press Enter into a dialog.
    """
    lines = screen.splitlines()
    drafts = [
        below[2:].strip()
        for above, below in itertools.pairwise(lines)
        if above.startswith("─" * 10) and below.startswith("❯ ")
    ]
    return drafts[-1] if drafts else ""
