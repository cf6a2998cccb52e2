"""Map a Claude Code screen to a state and its details (see ``states.State``).

The frame decides, never the words inside it. Claude Code ends every screen with one
of two frames: a dialog (numbered options with the ``❯`` cursor, then its footer,
found bottom-up by ``frame.find_dialog``) or the input box (a ``❯`` row between two
rules, then its footer). Files, diffs, commands, replies and option descriptions
are drawn inside those frames, indented or behind a gutter, so lookalike prompts,
spinners, boxes or footers in them decide nothing. "esc to interrupt" counts only in
the footer under the box, the spinner only at the left edge right above the box.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from runner.terminal.frame import find_dialog
from runner.terminal.layout import content_lines, find_input_box
from runner.terminal.permission import permission_details
from runner.terminal.prompts import is_question, question_details
from runner.terminal.screen import TerminalScreen
from runner.terminal.states import ScreenState, State

_EXITED_MARKS = ("[exited]", "[server exited]", "[lost server]", "Pane is dead")
_SPINNER = re.compile(r"(\S)\s+(.+?)(?:\s+\((.*)\))?\s*")
_ELAPSED = re.compile(r"^(?:(\d+)h\s*)?(?:(\d+)m\s*)?(\d+)s\b")
_RETRY = re.compile(r"retrying in (\d+)\s*s.*?attempt (\d+)/(\d+)")
_MODE = re.compile(r"(\w[\w ]*?) mode on|accept edits on|bypass permissions on")
_API_ERROR = re.compile(r"●\s+API Error:\s*(.+)")
_FATAL = re.compile(r"^\s*(?:error|fatal)\b", re.IGNORECASE)
# How far above the box the spinner can sit (tips and the effort line come between).
_SPINNER_REACH = 8


def classify(screen_or_lines: TerminalScreen | Sequence[str]) -> ScreenState:
    """The state a screen (or its text lines, top to bottom) shows, with details."""
    lines = (
        screen_or_lines.lines() if isinstance(screen_or_lines, TerminalScreen) else screen_or_lines
    )
    screen = content_lines(lines)
    if _has_exited(screen):
        return ScreenState(State.EXITED)
    dialog = find_dialog(screen)
    if dialog is not None:
        if is_question(screen, dialog):
            return ScreenState(State.ASKING, question_details(screen, dialog))
        return ScreenState(State.PERMISSION_PROMPT, permission_details(screen, dialog))
    box = find_input_box(screen)
    if box is None:
        return _without_box(screen)
    footer = box.footer(screen)
    details: dict[str, Any] = {"mode": _mode(footer)}
    if any("esc to interrupt" in line.lower() for line in footer):
        details.update(_activity(screen[: box.top]))
        return ScreenState(State.WORKING, details)
    details["draft"] = box.draft(screen)
    details.update(_last_turn(screen[: box.top]))
    return ScreenState(State.IDLE, details)


def _has_exited(screen: Sequence[str]) -> bool:
    # tmux's client prints "[exited]" when its last session ends (the CLI quit);
    # with remain-on-exit the dead pane says "Pane is dead". Either is the last text
    # on the screen: the same words higher up are output, not tmux.
    last = next((line for line in reversed(screen) if line.strip()), "")
    return last.startswith(_EXITED_MARKS)


def _without_box(screen: Sequence[str]) -> ScreenState:
    text = [line for line in screen if line.strip()]
    fatal = next((line.strip() for line in text if _FATAL.match(line)), None)
    if fatal is not None:
        return ScreenState(State.ERROR, {"message": fatal})
    if not text or (len(text) <= 6 and any("Claude Code" in line for line in text)):
        return ScreenState(State.STARTING)
    return ScreenState(State.UNKNOWN)


def _mode(footer: Sequence[str]) -> str:
    for line in footer:
        match = _MODE.search(line)
        if match:
            return (match.group(1) or match.group(0).removesuffix(" on")).strip("⏸⏵ ").strip()
    return ""


def _activity(above: Sequence[str]) -> dict[str, Any]:
    """Spinner text, elapsed seconds and API-retry facts from the lines above the box."""
    details: dict[str, Any] = {"retrying": False}
    command = _running_command(above)
    if command:
        details["running_command"] = command
    match = _spinner(above)
    if match is None:
        return details
    text = match.group(2)
    details.update(spinner=match.group(0).strip(), activity=text)
    retry = _RETRY.search(match.group(0))
    if retry:
        details.update(
            retrying=True,
            retry_in_seconds=int(retry.group(1)),
            attempt=int(retry.group(2)),
            max_attempts=int(retry.group(3)),
            error=text.split(" · ")[0],
        )
    elif match.group(3):
        elapsed = _ELAPSED.match(match.group(3))
        if elapsed:
            hours, minutes, seconds = (int(g or 0) for g in elapsed.groups())
            details["elapsed_seconds"] = hours * 3600 + minutes * 60 + seconds
    return details


def _spinner(above: Sequence[str]) -> re.Match[str] | None:
    """The spinner: the first row starting at the left edge, going up from the box.

    Tips and the effort line between it and the box are indented, and so is every
    row of a reply, so a spinner quoted in a reply is never taken for the real one.
    """
    for line in reversed(above[-_SPINNER_REACH:]):
        if not line or line[0] == " ":
            continue
        match = _SPINNER.fullmatch(line)
        return match if match is not None and _is_spinner(match) else None
    return None


def _is_spinner(match: re.Match[str]) -> bool:
    # The spinner glyph is a symbol; its text is a gerund ("Julienning…") or an API retry.
    # This excludes the effort indicator ("◐ medium · /effort") and transcript lines.
    glyph, text = match.group(1), match.group(2)
    if glyph.isalnum() or glyph in "❯⎿│●":
        return False
    return "…" in text or "retrying in" in text


def _running_command(above: Sequence[str]) -> str:
    """The command of the last ``⎿  $ cmd`` line since the last prompt (a running Bash tool)."""
    start = max((y for y, line in enumerate(above) if line.startswith("❯ ")), default=0)
    rows = list(above[start:])
    for y in range(len(rows) - 1, -1, -1):
        stripped = rows[y].strip()
        if stripped.startswith("⎿") and stripped[1:].lstrip().startswith("$ "):
            parts = [stripped[1:].lstrip()[2:]]
            indent = len(rows[y]) - len(rows[y].lstrip()) + 3
            for more in rows[y + 1 :]:
                if not more.strip() or len(more) - len(more.lstrip()) < indent:
                    break
                parts.append(more.strip())
            return " ".join(parts)
    return ""


def _last_turn(above: Sequence[str]) -> dict[str, Any]:
    """Whether the last turn was interrupted or ended on an API error.

    Only the transcript's last entry counts: the paragraph from the last row that
    starts at the left edge. A reply that quotes either ends with the turn's own
    summary (``✻ Worked for 3s``) after it.
    """
    entry = _last_entry(above)
    last = entry[-1].strip() if entry else ""
    details: dict[str, Any] = {
        "interrupted": last.startswith("⎿") and last[1:].lstrip().startswith("Interrupted")
    }
    error = _API_ERROR.fullmatch(entry[0]) if entry else None
    if error is not None:
        details["api_error"] = " ".join([error.group(1), *(row.strip() for row in entry[1:])])
    return details


def _last_entry(above: Sequence[str]) -> list[str]:
    start = next(
        (y for y in range(len(above) - 1, -1, -1) if above[y] and above[y][0] != " "), None
    )
    if start is None:
        return []
    entry: list[str] = []
    for row in above[start:]:
        if not row.strip() or row.rstrip().endswith("/effort"):
            break  # a blank row ends it; the effort line is the status bar's, not the turn's
        entry.append(row)
    return entry
