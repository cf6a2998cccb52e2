"""Fixtures shared by the terminal tests: the recorded casts of the real Claude Code CLI."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "terminal"
CASTS = sorted(FIXTURES.glob("claude-*.cast"))


def cast_id(path: Path) -> str:
    """Short test id: the fixture name without the CLI version prefix."""
    return path.stem.split("-", 2)[2]
