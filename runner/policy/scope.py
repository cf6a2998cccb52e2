"""Where a call is judged: the workspace root, the agent's home, the host copy if any."""

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

    def __post_init__(self) -> None:
        if not self.workspace.startswith("/") or not self.home.startswith("/"):
            raise ValueError("workspace and home must be absolute sandbox paths")

    def anchor(self, spec: str) -> str:
        return anchor_pattern(spec, workspace=self.workspace.rstrip("/") or "/", home=self.home)

    def normalise(self, raw: str) -> str:
        return normalise(raw, workspace=self.workspace, home=self.home)

    def kwargs(self) -> dict[str, Any]:
        return {"workspace": self.workspace, "home": self.home, "fs_root": self.fs_root}
