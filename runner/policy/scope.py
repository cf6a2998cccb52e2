"""Where a call is judged: the workspace root, the agent's home, its shell's cwd, the host copy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.policy.paths import anchor_pattern, normalise


@dataclass(frozen=True)
class Scope:
    workspace: str
    home: str
    fs_root: Path | None
    cwd: str | None = None  # the Bash tool's working directory (Claude Code keeps it across calls)

    def __post_init__(self) -> None:
        if not self.workspace.startswith("/") or not self.home.startswith("/"):
            raise ValueError("workspace and home must be absolute sandbox paths")
        if self.cwd is not None and not self.cwd.startswith("/"):
            raise ValueError("cwd must be an absolute sandbox path")

    @property
    def shell_dir(self) -> str:
        """Where a Bash command's relative paths start."""
        return self.cwd or self.workspace

    def anchor(self, spec: str) -> str:
        return anchor_pattern(spec, workspace=self.workspace.rstrip("/") or "/", home=self.home)

    def normalise(self, raw: str) -> str:
        return normalise(raw, workspace=self.workspace, home=self.home)

    def kwargs(self) -> dict[str, Any]:
        return {"workspace": self.workspace, "home": self.home, "fs_root": self.fs_root}
