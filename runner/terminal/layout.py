"""Landmarks of Claude Code's screen: horizontal rules, the input box, its footer, the tmux bar.

Everything is found by shape, never by line number, so any terminal size works.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

RULE_CHARS = "─━"
_TMUX_STATUS = re.compile(r"^\[[^\]]*\] \d+:")
_MIN_RULE = 10


def is_rule(line: str) -> bool:
    """A horizontal rule (``────``), possibly indented, at least 10 cells wide."""
    stripped = line.strip()
    return (
        len(stripped) >= _MIN_RULE and stripped[0] in RULE_CHARS and not stripped.strip(RULE_CHARS)
    )


def content_lines(lines: Sequence[str]) -> Sequence[str]:
    """The lines without tmux's status bar (the last line, when tmux draws one)."""
    if lines and _TMUX_STATUS.match(lines[-1]):
        return lines[:-1]
    return lines


@dataclass(frozen=True)
class InputBox:
    """The prompt input: rows ``top`` .. ``bottom`` are its two rules."""

    top: int
    bottom: int

    def draft(self, lines: Sequence[str]) -> str:
        """The text typed in the box but not sent (the ``❯`` prompt removed)."""
        rows = [lines[y] for y in range(self.top + 1, self.bottom)]
        if not rows:
            return ""
        if _is_shell_row(rows[0]):  # shell mode: the "!" is part of what runs
            first = "!" + rows[0].removeprefix("!").strip()
        else:
            first = rows[0].removeprefix("❯").strip()
        rest = [row.strip() for row in rows[1:]]
        return "\n".join([first, *rest]).strip()

    def footer(self, lines: Sequence[str]) -> list[str]:
        """The non-blank lines under the box (mode, "esc to interrupt", hints)."""
        return [line.strip() for line in lines[self.bottom + 1 :] if line.strip()]


def find_input_box(lines: Sequence[str]) -> InputBox | None:
    """The bottom-most input box: a rule, a ``❯`` line, maybe more lines, a rule."""
    bottom = len(lines) - 1
    while bottom > 0:
        if is_rule(lines[bottom]):
            top = _box_top(lines, bottom)
            if top is not None:
                return InputBox(top, bottom)
        bottom -= 1
    return None


def _box_top(lines: Sequence[str], bottom: int) -> int | None:
    # A draft can span several rows; the first row after the top rule starts with ❯
    # (or "! " in shell mode, where the box holds a command Claude Code will run).
    for top in range(bottom - 1, max(-1, bottom - 30), -1):
        if is_rule(lines[top]):
            first = lines[top + 1] if top + 1 < bottom else ""
            return top if first.startswith("❯") or _is_shell_row(first) else None
    return None


def _is_shell_row(line: str) -> bool:
    """The box's first row in shell mode: ``!`` then a space (Claude Code draws a NBSP)."""
    return line[:1] == "!" and line[1:2].isspace()
