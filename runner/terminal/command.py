"""The command of a Bash permission prompt, read back from its ``╌╌╌`` box.

A one-row command sits in the box as it is. A longer one gets a ``│`` bar on every
row, and its lines are word-wrapped to the box: a row that ends early because the next
row's first word would not have fitted is a wrap (joined back with a space); any other
row ends a line of the command (joined with a newline). A line of the command that
ends exactly where a wrap would have is indistinguishable from one wrap on screen, so
it reads as a wrap. Nothing in the box is ever read as anything but the command.
"""

from __future__ import annotations

from collections.abc import Sequence

_BAR = "│"
_RIGHT_PADDING = 1


def command_text(head: Sequence[str], dashed: Sequence[int], has_title: bool) -> str:
    """The command in the box of a prompt's ``head`` rows (``dashed``: its ``╌╌╌`` rows).

    With the title off the screen (``has_title`` False) the box may have lost its top;
    its visible rows are then those from the top of the screen to the first ``╌╌╌``.
    """
    rows = _box_rows(head, dashed, has_title)
    if not rows:
        return ""
    width = len(head[dashed[0]])  # the box spans the dialog
    parts = [_content(row) for row in rows]
    lines = [parts[0][0]]
    previous = parts[0][0]
    for text, start in parts[1:]:
        room = width - start - _RIGHT_PADDING
        if _is_wrap(previous, text, room):
            lines[-1] += ("" if _is_broken_word(previous, room) else " ") + text
        else:
            lines.append(text)
        previous = text
    return "\n".join(lines).strip("\n")


def _box_rows(head: Sequence[str], dashed: Sequence[int], has_title: bool) -> list[str]:
    if not dashed:
        return []
    if not has_title and _is_bar_row(head[dashed[0] - 1] if dashed[0] else ""):
        # The box's top scrolled off: the first rule on screen is its bottom.
        return list(head[: dashed[0]])
    end = dashed[1] if len(dashed) > 1 else len(head)
    return list(head[dashed[0] + 1 : end])


def _content(row: str) -> tuple[str, int]:
    """A box row's text and the column it starts at (after the margin and the bar)."""
    start = 1 if row.startswith(" ") else 0
    if row[start : start + 1] == _BAR:
        start += 2 if row[start + 1 : start + 2] == " " else 1
    return row[start:], start


def _is_bar_row(row: str) -> bool:
    return row.lstrip(" ").startswith(_BAR)


def _is_wrap(row: str, following: str, room: int) -> bool:
    # Wrapping trims the blanks at the start of the next row, so indented text is a new line.
    if not following or following.startswith(" "):
        return False
    word = following.split(" ", 1)[0]
    if len(word) >= room:
        return len(row) >= room  # a word too long for any row is cut only at a full row
    return len(row) + 1 + len(word) > room


def _is_broken_word(row: str, room: int) -> bool:
    # A full row without a blank is the middle of a word cut to fit.
    return len(row) >= room and " " not in row
